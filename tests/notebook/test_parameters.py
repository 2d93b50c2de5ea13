"""Parameters from papermill's parameters cell, typed as papermill users write them."""

from conftest import code, codes


def params(pipeline):
    return {p.name: p for p in pipeline.parameters}


def test_types_from_literals_annotations_and_type_comments(parse):
    p = parse([code(
        "n = 5\n"
        "rate = 0.1  # learning rate\n"
        "name = 'iris'\n"
        "flag = False\n"
        "cols = ['a', 'b']\n"
        "opts = {'k': 1}\n"
        "depth: float = 3  # max depth\n"
        "alpha = 1  # type: float  regularisation\n"
        "seed = None  # type: Optional[int]\n"
        "kind = 'rf'  # type: Literal['rf','lr']  the model family\n"
        "trees = 100  # range: 10..500 number of trees\n"
        "label: str | None = None\n",
        "parameters"), code("print(n)", "step:a")])
    found = {k: (v.type, v.default) for k, v in params(p).items()}
    assert found == {
        "n": ("int", 5), "rate": ("float", 0.1), "name": ("str", "iris"),
        "flag": ("bool", False), "cols": ("list", ["a", "b"]), "opts": ("dict", {"k": 1}),
        "depth": ("float", 3.0), "alpha": ("float", 1.0), "seed": ("int", None),
        "kind": ("str", "rf"), "trees": ("int", 100), "label": ("str", None),
    }
    ps = params(p)
    assert ps["rate"].help == "learning rate"
    assert ps["depth"].help == "max depth"
    assert ps["alpha"].help == "regularisation"
    assert ps["seed"].nullable and ps["label"].nullable and not ps["n"].nullable
    assert ps["kind"].choices == ["rf", "lr"] and ps["kind"].help == "the model family"
    assert (ps["trees"].minimum, ps["trees"].maximum) == (10, 500)
    assert ps["trees"].help == "number of trees"
    assert (ps["rate"].cell_index, ps["rate"].cell_id, ps["rate"].line) == (0, "c0", 2)
    assert p.valid


def test_a_default_that_contradicts_its_declared_type_is_an_error(parse):
    p = parse([code("n: int = 'five'\nk = 'x'  # type: Literal['a','b']", "parameters"),
               code("print(n, k)", "step:a")])
    assert codes(p) == ["parameter-type", "parameter-choice"]
    assert p.errors[0].location.line == 1 and p.errors[1].location.line == 2


def test_a_computed_default_is_typed_any_with_a_warning(parse):
    p = parse([code("import os\nroot = os.getcwd()", "parameters"), code("print(root)",
                                                                          "step:a")])
    assert params(p)["root"].type == "any"
    assert codes(p, "warning") == ["parameter-not-literal"]
    assert p.valid


def test_papermill_injected_parameters_override_the_defaults(parse):
    p = parse([code("n = 1", "parameters"), code("n = 7", "injected-parameters"),
               code("print(n)", "step:a")])
    assert params(p)["n"].default == 7


def test_statements_that_define_no_parameter_warn(parse):
    p = parse([code("x, y = 1, 2", "parameters"), code("print(x)", "step:a")])
    assert codes(p, "warning") == ["parameter-statement"]


def test_a_default_that_json_cannot_hold_is_an_error(parse):
    p = parse([code("big = 1e999\nraw = b'x'\nkeys = {1: 'a'}", "parameters"),
               code("print(big, raw, keys)", "step:a")])
    assert codes(p) == ["parameter-not-json"] * 3


def test_an_unreadable_range_warns_instead_of_failing(parse):
    p = parse([code("n = 3  # range: 1e..2 count", "parameters"), code("print(n)", "step:a")])
    assert codes(p, "warning") == ["parameter-range"]
    assert {q.name: q.minimum for q in p.parameters} == {"n": None}


def test_literal_choices_in_a_type_comment_read_with_any_spacing_and_quotes(parse):
    p = parse([code(
        "kind = 'x'  # type: Literal['x', 'y']  the family\n"
        'mode = "a"  # type: Literal["a","b"]\n'
        "depth = 2  # type: Literal[1, 2, 3]  tree depth\n"
        "loss = 'l2'  # type: Literal[ 'l1' ,'l2',  'huber' ]\n"
        "sep = ', '  # type: Literal[', ', ' | ']  a separator with blanks in it\n"
        "seed = None  # type: Optional[Literal[1, 2]]  fixed seeds\n"
        "width = None  # type: int | None  pixels\n",
        "parameters"), code("print(kind, mode, depth, loss, sep, seed, width)", "step:a")])
    ps = params(p)
    found = {k: (v.type, v.choices, v.help) for k, v in ps.items()}
    assert found == {
        "kind": ("str", ["x", "y"], "the family"),
        "mode": ("str", ["a", "b"], ""),
        "depth": ("int", [1, 2, 3], "tree depth"),
        "loss": ("str", ["l1", "l2", "huber"], ""),
        "sep": ("str", [", ", " | "], "a separator with blanks in it"),
        "seed": ("int", [1, 2], "fixed seeds"),
        "width": ("int", None, "pixels"),
    }
    assert ps["seed"].nullable and ps["width"].nullable
    assert p.valid and codes(p, "warning") == []


def test_split_type_comment_ends_the_type_at_the_first_blank_outside_brackets():
    from liminal_jupyter.notebook.parameters import split_type_comment

    assert split_type_comment("float  regularisation") == ("float", "regularisation")
    assert split_type_comment("Literal['a', 'b']") == ("Literal['a', 'b']", "")
    assert split_type_comment("int |None  n") == ("int |None", "n")
    assert split_type_comment("int| None n") == ("int| None", "n")
    assert split_type_comment("Literal['it\\'s', 'b'] x") == ("Literal['it\\'s', 'b']", "x")
