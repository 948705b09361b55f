"""The conventions of docs/conventions.md that a test can check: the decorator order on every
view, every rate limit declared with its route, and schemas built on flask-marshmallow."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from marshmallow import Schema

import myproject
from myproject.extensions import ma
from myproject.schemas import auth, common, health, item, password_reset, user

PACKAGE = Path(myproject.__file__).parent
# docs/conventions.md "The decorators on a view": rank of each decorator, top to bottom.
ORDER = {
    "limiter.limit": 1,
    "blp.authenticated": 2,
    "cached_get": 3,
    "idempotent": 3,
    "blp.arguments": 4,
    "blp.body": 4,
    "blp.if_match": 5,
    "blp.if_none_match": 5,
    "blp.response": 6,
    "blp.doc": 7,
    "blp.errors": 7,
    "blp.alt_response": 7,
}


def _name(decorator: ast.expr) -> str:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ast.unparse(target)


def _views() -> list[tuple[str, list[str]]]:
    """(module:Class.method, its decorator names) of every MethodView method in the package."""
    views = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and "MethodView" in map(ast.unparse, node.bases):
                assert not any(
                    isinstance(s, ast.Assign) and "decorators" in map(ast.unparse, s.targets)
                    for s in node.body
                ), f"{path.name}:{node.name}: declare limits on the view, not in `decorators`"
                for method in node.body:
                    if isinstance(method, ast.FunctionDef):
                        names = [_name(d) for d in method.decorator_list]
                        views.append((f"{path.name}:{node.name}.{method.name}", names))
    return views


VIEWS = _views()


def test_there_are_views_to_check():
    assert len(VIEWS) >= 20


@pytest.mark.parametrize(("view", "decorators"), VIEWS, ids=[v for v, _ in VIEWS])
def test_view_decorators_follow_the_documented_order(view, decorators):
    unknown = [name for name in decorators if name not in ORDER]
    ranks = [ORDER[name] for name in decorators if name in ORDER]

    assert unknown == [], f"{view}: add {unknown} to docs/conventions.md and ORDER"
    assert ranks == sorted(ranks), f"{view}: {decorators}"


def test_no_rate_limit_outside_flask_limiter():
    # The per-name login limit was once counted by hand in auth/sessions.py.
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        assert "limiter.limiter" not in source, path
        assert "from limits import parse" not in source, path


def _schemas() -> list[type[Schema]]:
    modules = (auth, common, health, item, password_reset, user)
    return [
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Schema) and cls.__module__ == module.__name__
    ]


def test_schemas_derive_from_flask_marshmallow():
    schemas = _schemas()

    assert len(schemas) >= 15
    for cls in schemas:
        assert issubclass(cls, ma.Schema), cls


def test_schemas_that_mirror_a_model_are_sqlalchemy_schemas():
    for cls in (item.ItemSchema, user.UserPublicSchema, user.UserSchema):
        assert issubclass(cls, ma.SQLAlchemySchema), cls
