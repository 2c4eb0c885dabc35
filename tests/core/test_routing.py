"""The app's URL rules make werkzeug's URL builders on first use, and build the same URLs."""

from werkzeug.routing import AnyConverter, IntegerConverter, Map, PathConverter, Rule

from crm.core.routing import LazyBuilderRule


def _sample(rule, name):
    converter = rule._converters.get(name)
    if converter is None:
        return (rule.defaults or {}).get(name, "x")
    if isinstance(converter, IntegerConverter):
        return 7
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    if isinstance(converter, PathConverter):
        return "a/b c"
    return "a b"


def test_every_rule_builds_the_url_werkzeug_builds(app):
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    assert len(rules) > 200
    assert all(isinstance(rule, LazyBuilderRule) for rule in rules)
    built_urls = 0
    for rule in rules:
        eager = Rule(rule.rule, **rule.get_empty_kwargs())
        eager.bind(app.url_map)
        values = {name: _sample(rule, name) for name in rule.arguments}
        for extra in ({}, {"page": 2, "q": "名称 & more"}):
            for append_unknown in (True, False):
                built = rule.build({**values, **extra}, append_unknown)
                assert built == eager.build({**values, **extra}, append_unknown), rule.rule
        built_urls += rule.build(values) is not None
    assert built_urls == len(rules)


def test_the_builders_are_made_on_first_use(monkeypatch):
    made = []
    werkzeug_make = Rule._compile_builder

    def counting(self, append_unknown=True):
        made.append(append_unknown)
        return werkzeug_make(self, append_unknown)

    monkeypatch.setattr(Rule, "_compile_builder", counting)
    rule = LazyBuilderRule("/enterprises/<int:enterprise_id>", endpoint="detail")
    adapter = Map([rule]).bind("localhost")
    assert made == []
    assert adapter.build("detail", {"enterprise_id": 3, "tab": "gaps"}) == "/enterprises/3?tab=gaps"
    assert adapter.build("detail", {"enterprise_id": 4}) == "/enterprises/4"
    assert made == [True]
    assert rule.build({"enterprise_id": 5}, append_unknown=False) == ("", "/enterprises/5")
    assert made == [True, False]
