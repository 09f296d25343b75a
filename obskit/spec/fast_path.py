"""The fast path of validation. cerberus spends its time building a child validator per nested
value and recording errors, yet almost every document it sees is valid. `accepts` compiles a schema
into plain predicates that say only whether a document is valid; cerberus runs only when they
refuse, to name the problems (schema.validate). A predicate may refuse a document cerberus would
accept (that costs time, nothing else) but must never accept one cerberus would refuse. They call
the check_with rules in cerberus' order and stop at the first failure, so a rule that raises does
so at the same point as in cerberus."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from functools import lru_cache
from typing import Any

from obskit.spec.validator import SpecValidator

Accepts = Callable[[Any], bool]
_COMPILED_RULES = frozenset(
    {
        "type",
        "empty",
        "required",
        "nullable",
        "allowed",
        "regex",
        "min",
        "max",
        "check_with",
        "schema",
        "keysrules",
        "valuesrules",
    }
)


class _Verdict:
    """Stands in for the validator while a check_with rule runs, noting whether it reported an error."""

    def __init__(self) -> None:
        self.refused = False

    def _error(self, *_: Any) -> None:
        self.refused = True


def _check_with_verdict(name: str, value: Any) -> bool:
    verdict = _Verdict()
    getattr(SpecValidator, f"_check_with_{name}")(verdict, name, value)
    return not verdict.refused


# A check_with rule depends on the value alone, and a spec repeats many strings (units, names, selectors,
# each seen again when the services are resolved); only strings are remembered, as 1 == 1.0 == True.
_string_verdict = lru_cache(maxsize=1 << 18)(_check_with_verdict)


def _check_with_accepts(name: str) -> Accepts:
    return lambda value: (_string_verdict if type(value) is str else _check_with_verdict)(name, value)


def _type_accepts(data_type: str | list[str]) -> Accepts:
    names = [data_type] if isinstance(data_type, str) else data_type
    definitions = [SpecValidator.types_mapping[name] for name in names]
    if len(definitions) == 1 and not definitions[0].excluded_types:
        included = definitions[0].included_types
        return lambda value: isinstance(value, included)
    return lambda value: any(
        isinstance(value, d.included_types) and not isinstance(value, d.excluded_types) for d in definitions
    )


def _empty_accepts(empty: bool) -> Accepts:
    # cerberus skips some later rules for an empty value when `empty` is true; only false is compiled.
    if empty is not False:
        raise NotImplementedError("the fast path compiles only 'empty: False'")
    return lambda value: not (isinstance(value, Sized) and len(value) == 0)


def _allowed_accepts(allowed: list[Any]) -> Accepts:
    def accepts(value: Any) -> bool:
        if isinstance(value, Iterable) and not isinstance(value, str):
            return all(item in allowed for item in value)
        return value in allowed

    return accepts


def _regex_accepts(pattern: str) -> Accepts:
    compiled = re.compile(pattern if pattern.endswith("$") else pattern + "$")
    return lambda value: not isinstance(value, str) or compiled.match(value) is not None


def _bound_accepts(bound: Any, out_of_range: Callable[[Any, Any], bool]) -> Accepts:
    def accepts(value: Any) -> bool:
        try:
            return not out_of_range(value, bound)
        except TypeError:  # cerberus ignores values that cannot be compared
            return True

    return accepts


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _schema_accepts(rules: Mapping[str, Any], partial: bool) -> Accepts:
    # cerberus reads `schema` as item rules for a list and as field rules for a mapping.
    if rules.get("type") == "list":
        item = _value_accepts(rules["schema"], partial)
        return lambda value: not isinstance(value, Mapping) and (not _is_list(value) or all(map(item, value)))
    if rules.get("type") == "dict":
        fields = _mapping_accepts(rules["schema"], partial)
        return lambda value: not _is_list(value) and (not isinstance(value, Mapping) or fields(value))
    raise NotImplementedError("the fast path compiles 'schema' only beside 'type: dict' or 'type: list'")


def _keysrules_accepts(rules: Mapping[str, Any]) -> Accepts:
    key = _value_accepts(rules, partial=False)  # cerberus checks keys as a whole document
    return lambda value: not isinstance(value, Mapping) or all(map(key, value))


def _valuesrules_accepts(rules: Mapping[str, Any], partial: bool) -> Accepts:
    item = _value_accepts(rules, partial)
    return lambda value: not isinstance(value, Mapping) or all(map(item, value.values()))


def _rule_accepts(rule: str, rules: Mapping[str, Any], partial: bool) -> Accepts:
    constraint = rules[rule]
    if rule == "type":
        return _type_accepts(constraint)
    if rule == "empty":
        return _empty_accepts(constraint)
    if rule == "allowed":
        return _allowed_accepts(constraint)
    if rule == "regex":
        return _regex_accepts(constraint)
    if rule == "min":
        return _bound_accepts(constraint, lambda value, bound: value < bound)
    if rule == "max":
        return _bound_accepts(constraint, lambda value, bound: value > bound)
    if rule == "check_with":
        return _check_with_accepts(constraint)
    if rule == "schema":
        return _schema_accepts(rules, partial)
    if rule == "keysrules":
        return _keysrules_accepts(constraint)
    return _valuesrules_accepts(constraint, partial)


def _value_accepts(rules: Mapping[str, Any], partial: bool) -> Accepts:
    unknown = set(rules) - _COMPILED_RULES
    if unknown:
        raise NotImplementedError(f"the fast path does not compile the rules {sorted(unknown)}")
    # cerberus' order: nullable (false unless given), type and empty first, then the rest as written.
    order = [rule for rule in ("type", "empty") if rule in rules]
    order += [rule for rule in rules if rule not in ("type", "empty", "required", "nullable")]
    steps = [_rule_accepts(rule, rules, partial) for rule in order]
    if rules.get("nullable") is True:
        return lambda value: value is None or all(step(value) for step in steps)
    return lambda value: value is not None and all(step(value) for step in steps)


def _mapping_accepts(fields: Mapping[str, Any], partial: bool) -> Accepts:
    per_field = {name: _value_accepts(rules, partial) for name, rules in fields.items()}
    required = frozenset(name for name, rules in fields.items() if rules.get("required") is True)

    def accepts(document: Mapping[Any, Any]) -> bool:
        for key, value in document.items():
            field_accepts = per_field.get(key)
            if field_accepts is None or not field_accepts(value):
                return False
        return partial or required <= document.keys()

    return accepts


_accepting: dict[tuple[int, bool], Accepts] = {}


def accepts(key: int, schema: dict[str, Any], partial: bool) -> Accepts:
    # Compiled from the schema as written, which cerberus reads unchanged (a test makes sure), so
    # that a valid spec never pays for building the cerberus validator, which checks the schema.
    if (key, partial) not in _accepting:
        _accepting[key, partial] = _mapping_accepts(schema, partial)
    return _accepting[key, partial]
