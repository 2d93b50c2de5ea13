"""The data that flows between steps, found from the code alone."""

from conftest import code, codes, inputs_of


def test_a_name_read_comes_from_the_last_earlier_step_that_assigns_it(parse):
    p = parse([
        code("x = 1", "step:a"),
        code("x = 2", "step:b"),
        code("y = x + 1", "step:c"),
    ])
    assert inputs_of(p, "c") == {"x": "b"}
    assert p.step("a").outputs == []
    assert p.step("b").outputs == ["x"]
    assert [(e.source, e.target, e.variables) for e in p.edges] == [("b", "c", ["x"])]


def test_a_name_assigned_before_it_is_read_in_the_same_step_is_not_an_input(parse):
    p = parse([code("x = 1", "step:a"), code("x = 5\nprint(x)", "step:b")])
    assert inputs_of(p, "b") == {}


def test_reads_across_cells_of_one_step_stay_inside_the_step(parse):
    p = parse([code("x = 1", "step:a"), code("y = 2"), code("z = x + y", "step:b")])
    assert [c.index for c in p.step("a").cells] == [0, 1]
    assert inputs_of(p, "b") == {"x": "a", "y": "a"}


def test_mutation_rule_makes_the_mutating_step_the_producer(parse):
    p = parse([
        code("data = {}\nitems = []\nobj = type('O', (), {})()\ntotal = 0", "step:make"),
        code("data['k'] = 1", "step:item"),
        code("items.append(3)", "step:method"),
        code("obj.attr = 2", "step:attr"),
        code("total += 5", "step:aug"),
        code("print(data, items, obj, total)", "step:use"),
    ])
    assert inputs_of(p, "item") == {"data": "make"}
    assert inputs_of(p, "method") == {"items": "make"}
    assert inputs_of(p, "attr") == {"obj": "make"}
    assert inputs_of(p, "aug") == {"total": "make"}
    assert inputs_of(p, "use") == {
        "data": "item", "items": "method", "obj": "attr", "total": "aug"
    }


def test_a_method_called_on_a_function_result_mutates_the_result_not_the_function(parse):
    p = parse([
        code("def build(n):\n    return [0] * n", "functions"),
        code("rows = [3, 1]\nbuild(2).append(1)\nrows.copy().sort()", "step:a"),
        code("print(rows)", "step:b"),
    ])
    assert p.step("a").outputs == ["rows"]  # not `build`: build(2) is a new list
    assert inputs_of(p, "b") == {"rows": "a"}


def test_method_calls_on_imported_modules_are_not_mutations(parse):
    p = parse([
        code("import numpy as np", "imports"),
        code("import random\nrandom.seed(0)\nnp.random.seed(0)\nv = np.zeros(2)", "step:a"),
        code("print(v, random.random())", "step:b"),
    ])
    assert p.step("a").outputs == ["v"]
    assert inputs_of(p, "b") == {"v": "a", "random": "import:a"}
    assert p.step("b").inputs[1].statement == "import random"


def test_imports_in_a_step_are_rerun_by_the_steps_that_use_them_not_passed(parse):
    p = parse([
        code("import pandas as pd\nfrom os import path as osp", "step:a"),
        code("df = pd.DataFrame()\nprint(osp.sep)", "step:b"),
    ])
    statements = {i.name: (i.kind, i.statement) for i in p.step("b").inputs}
    assert statements == {
        "pd": ("import", "import pandas as pd"),
        "osp": ("import", "from os import path as osp"),
    }
    assert p.step("a").outputs == []
    assert p.edges == []


def test_prelude_names_and_builtins_need_no_edge(parse):
    p = parse([
        code("import math", "imports"),
        code("def area(r):\n    return math.pi * r * r", "functions"),
        code("a = area(2)\nprint(len([a]), get_ipython)", "step:one"),
    ])
    assert p.valid, [d.render() for d in p.diagnostics]
    assert inputs_of(p, "one") == {}


def test_the_ir_records_what_the_prelude_reads_from_outside_itself(parse):
    """What the prelude reads as it runs (here a parameter) is recorded; builtins, the
    prelude's own names and the free names of its functions' bodies (they are read when a
    step calls the function, as that step's reads) are not."""
    p = parse([
        code("n = 3\nunused = 1", "parameters"),
        code("import math", "imports"),
        code("LIMIT = n * 2\ndef capped(v):\n    return min(v, LIMIT, math.inf, cap)",
             "functions"),
        code("cap = 5", "step:one"),
    ])
    assert p.prelude_reads == ["n"]
    assert parse([code("import os", "imports"), code("x = os.sep", "step:a")]
                 ).prelude_reads == []


def test_free_names_of_prelude_functions_are_reads_of_the_calling_step(parse):
    p = parse([
        code("def scaled(v):\n    return v * factor", "functions"),
        code("factor = 3", "step:a"),
        code("print(scaled(2))", "step:b"),
    ])
    assert inputs_of(p, "b") == {"factor": "a"}


def test_functions_defined_in_a_step_carry_their_free_names_to_the_caller(parse):
    p = parse([
        code("def area(r):\n    return pi_ish * r * r", "step:define"),
        code("pi_ish = 3.14", "step:constant"),
        code("print(area(2))", "step:call"),
    ])
    assert inputs_of(p, "call") == {"area": "define", "pi_ish": "constant"}


def test_a_function_assigning_a_global_produces_it_in_the_step_that_calls_it(parse):
    p = parse([
        code("def load():\n    global table\n    table = [1, 2]", "functions"),
        code("load()", "step:a"),
        code("print(table)", "step:b"),
    ])
    assert p.valid, [d.render() for d in p.diagnostics]
    assert inputs_of(p, "b") == {"table": "a"}


def test_comprehension_and_lambda_variables_are_local_to_them(parse):
    p = parse([
        code("i = 10\nrows = [1, 2]", "step:a"),
        code(
            "squares = [i * i for i in rows]\n"
            "pairs = {k: v for k, v in zip(rows, rows)}\n"
            "f = lambda i: i + 1\n"
            "g = (j for j in rows)",
            "step:b",
        ),
    ])
    assert inputs_of(p, "b") == {"rows": "a"}


def test_a_lambda_may_use_a_name_bound_later_in_its_step(parse):
    p = parse([code("f = lambda: later + 1\nlater = 2\nprint(f())", "step:a")])
    assert p.valid, [d.render() for d in p.diagnostics]


def test_walrus_in_a_comprehension_binds_in_the_step(parse):
    p = parse([code("vals = [y := n for n in range(3)]\nprint(y)", "step:a"),
               code("print(y)", "step:b")])
    assert p.valid, [d.render() for d in p.diagnostics]
    assert inputs_of(p, "b") == {"y": "a"}


def test_del_removes_a_name_so_a_later_reader_is_an_error(parse):
    p = parse([
        code("tmp = 1\nkeep = 2", "step:a"),
        code("del tmp", "step:b"),
        code("print(tmp, keep)", "step:c"),
    ])
    assert codes(p) == ["undefined-name"]
    error = p.errors[0]
    assert "step 'b' deletes it" in error.message
    assert (error.location.cell_index, error.location.line, error.step) == (2, 1, "c")
    assert inputs_of(p, "c") == {"keep": "a"}


def test_names_bound_only_in_a_branch_or_loop_still_come_from_upstream(parse):
    p = parse([
        code("n = 0\nflag = True", "step:a"),
        code("if flag:\n    n = 1\nprint(n)\nfor k in range(2):\n    pass\nprint(k)", "step:b"),
    ])
    # n may be bound by the branch, so the upstream n is needed too; k is bound by the
    # loop only, nobody upstream has it, and that is not an error.
    assert inputs_of(p, "b") == {"flag": "a", "n": "a"}
    assert p.valid


def test_try_except_binding_and_with_targets(parse):
    p = parse([
        code("flag = True\ntry:\n    v = 1\nexcept ValueError as err:\n    print(err)\nprint(v)",
             "step:a"),
        code("with open('x' if flag else 'y', 'w') as fh:\n    fh.write('')", "step:b"),
    ])
    assert p.valid, [d.render() for d in p.diagnostics]


def test_undefined_names_are_errors_with_the_cell_and_line(parse):
    p = parse([
        code("x = 1", "step:a"),
        code("y = x\nz = y + missing_thing", "step:b"),
    ])
    assert codes(p) == ["undefined-name"]
    error = p.errors[0]
    assert error.location.cell_index == 1
    assert error.location.cell_id == "c1"
    assert error.location.line == 2
    assert error.step == "b"
    assert "'missing_thing'" in error.render() and "nb.ipynb" in error.render()


def test_undefined_name_defined_later_says_where(parse):
    p = parse([code("print(late)", "step:a"), code("late = 1", "step:b")])
    assert "Step 'b' defines it later" in p.errors[0].message


def test_undefined_name_suggests_a_close_match(parse):
    p = parse([code("accuracy = 0.9", "step:a"), code("print(acuracy)", "step:b")])
    assert "Did you mean 'accuracy'?" in p.errors[0].message


def test_all_errors_of_a_notebook_are_reported_together(parse):
    p = parse([
        code("print(one)", "step:a"),
        code("print(two", "step:b"),
        code("print(three)", "step:c", "after:nowhere"),
    ])
    assert sorted(codes(p)) == ["syntax-error", "undefined-name", "undefined-name",
                                "unknown-step"]


def test_syntax_error_names_the_cell_and_line(parse):
    p = parse([code("x = 1", "step:a"), code("y = 2\nif x\n    pass", "step:b")])
    assert codes(p) == ["syntax-error"]
    error = p.errors[0]
    assert (error.location.cell_index, error.location.line) == (1, 2)


def test_magics_and_shell_lines_are_analysed_as_ipython_runs_them(parse):
    p = parse([
        code("%time x = sum(range(10))\nfiles = !ls\n%matplotlib inline", "step:first"),
        code("%%time\ny = x + 1", "step:second"),
        code("!echo {y} $x\nprint(len(files))", "step:third"),
        code("%%bash\necho not python $undefined_in_bash", "step:fourth"),
        code("%%capture captured\nprint(y)", "step:fifth"),
        code("print(captured.stdout)", "step:sixth"),
    ])
    assert p.valid, [d.render() for d in p.diagnostics]
    assert inputs_of(p, "second") == {"x": "first"}
    assert inputs_of(p, "third") == {"y": "second", "x": "first", "files": "first"}
    assert inputs_of(p, "fourth") == {}
    assert inputs_of(p, "sixth") == {"captured": "fifth"}


def test_star_imports_warn_and_turn_unknown_names_into_warnings(parse):
    p = parse([
        code("from math import *", "imports"),
        code("print(sqrt(2))", "step:a"),
    ])
    assert p.valid
    assert codes(p, "warning") == ["star-import", "undefined-name"]


def test_run_magic_defines_names_as_a_star_import_does(parse):
    """`%run setup.py` puts the script's names in the namespace: a name it may define is a
    warning, not an error that refuses the run (it refused a notebook that runs in Jupyter)."""
    p = parse([
        code("%run setup_vars.py\nx = CONST + 1", "step:a"),
        code("print(x)", "step:b"),
    ])
    assert p.valid, [d.render() for d in p.diagnostics]
    assert codes(p, "warning") == ["star-import", "undefined-name"]
    star, undefined = (d.message for d in p.diagnostics)
    assert star.startswith("'%run setup_vars.py' hides which names it defines")
    assert undefined.endswith("It may come from '%run setup_vars.py'.")
    assert inputs_of(p, "b") == {"x": "a"}


def test_class_definitions_and_their_methods(parse):
    p = parse([
        code("scale = 2", "step:a"),
        code(
            "class Model:\n    factor = 3\n    def predict(self, v):\n"
            "        return v * scale * self.factor\n",
            "step:b",
        ),
        code("print(Model().predict(1))", "step:c"),
    ])
    assert inputs_of(p, "b") == {"scale": "a"}
    assert inputs_of(p, "c") == {"Model": "b", "scale": "a"}


def test_parameters_are_inputs_of_kind_parameter_until_a_step_reassigns_them(parse):
    p = parse([
        code("rate = 0.1", "parameters"),
        code("print(rate)", "step:a"),
        code("rate = rate * 2", "step:b"),
        code("print(rate)", "step:c"),
    ])
    assert inputs_of(p, "a") == {"rate": "parameter"}
    assert inputs_of(p, "b") == {"rate": "parameter"}
    assert inputs_of(p, "c") == {"rate": "b"}


def test_cycle_between_data_and_after_edges_is_an_error(parse):
    p = parse([code("x = 1", "step:a", "after:b"), code("print(x)", "step:b")])
    assert codes(p) == ["cycle"]
    assert "a -> b" in p.errors[0].message or "b -> a" in p.errors[0].message


def test_independent_branches_have_no_edge_between_them(parse):
    p = parse([
        code("base = [1, 2, 3]", "step:load"),
        code("left = sum(base)", "step:left"),
        code("right = max(base)", "step:right"),
        code("print(left + right)", "step:join"),
    ])
    assert inputs_of(p, "left") == {"base": "load"}
    assert inputs_of(p, "right") == {"base": "load"}
    assert inputs_of(p, "join") == {"left": "left", "right": "right"}
    assert p.order() == ["load", "left", "right", "join"]


def test_a_name_used_before_its_own_step_assigns_it_is_not_suggested_to_itself(parse):
    p = parse([code("print(model)\nmodel = 1", "step:a")])
    (error,) = [d for d in p.diagnostics if d.code == "undefined-name"]
    assert "Did you mean" not in error.message
    assert "assigned only after this line" in error.message


def test_foreach_names_a_list_the_step_reads(parse):
    good = parse([code("depths = [1, 2]\nn = 3", "parameters"),
                  code("made = depths * n", "step:train", "foreach:depths"),
                  code("best = max(made)", "step:pick")])
    assert good.valid, good.errors
    assert good.step("train").foreach == "depths"
    assert good.step("pick").foreach is None
    assert codes(parse([code("n = 3", "parameters"),
                        code("made = n", "step:train", "foreach:other")])) == ["foreach-unknown"]
    assert codes(parse([code("n = 3", "parameters"),
                        code("made = n", "step:train", "foreach:n")])) == ["foreach-not-list"]
    assert codes(parse([code("xs = [1]", "parameters"),
                        code("model = xs", "step:train", "foreach:xs", "model:model")])
                 ) == ["foreach-model"]
