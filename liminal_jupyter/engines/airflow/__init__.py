"""Apache Airflow 3: compile a pipeline to a DAG file, and run it with `airflow dags test`.

compile.py writes the DAG source (no Airflow import needed); runtime.py is what each task
runs (the step executor in a child process); task.py is its command line for the bash and
kubernetes operators; local_backend.py is `liminal-nb run --backend airflow`.
"""
