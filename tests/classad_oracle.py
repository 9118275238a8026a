"""HTCondor's own ClassAd parser (the ``classad2`` bindings) as the oracle for
jobwrapper's literal parser (jobwrapper/job/classad.py): same interface as
``parse_literal``, so ``parse_ad_text(..., value_parser=ORACLE)`` reads an ad the way
the bindings do, and the tests compare both readings."""

from __future__ import annotations

import os
from typing import Any, Optional

from jobwrapper.job.classad import (
    _INTEGER,
    _REAL,
    Expression,
    Value,
    ValueParser,
    parse_string_literal,
)


def import_classad_module() -> Any:
    """htcondor's ClassAd bindings: ``classad2`` (HTCondor >= 24) or ``classad``; None
    without them. Loading them sets ``CONDOR_CONFIG=/dev/null`` when there is no
    HTCondor config; the variable is put back as it was."""
    before = os.environ.get("CONDOR_CONFIG")
    try:
        for name in ("classad2", "classad"):
            try:
                return __import__(name)
            except ImportError:
                continue
        return None
    finally:
        if before is None:
            os.environ.pop("CONDOR_CONFIG", None)
        else:
            os.environ["CONDOR_CONFIG"] = before


def classad_value_parser() -> Optional[ValueParser]:
    """A value parser built on the bindings, or None when they are absent."""
    module = import_classad_module()
    if module is None:
        return None
    old_syntax = getattr(module, "ParserType", getattr(module, "Parser", None)).Old

    def parse(name: str, text: str) -> Value:
        try:
            ad = module.parseOne(f"{name} = {text}", old_syntax)
            value: Any = ad[name]
        except Exception as error:  # the bindings raise several types; KeyError if unparsable
            raise ValueError(str(error)) from error
        if isinstance(value, module.Value):  # an int enum: test it before int
            return None if value == module.Value.Undefined else Expression(text)
        # The bindings read a literal from the start of the text and ignore the rest
        # ("1;2" is 1, "1_000" is 1) and wrap huge integers: a value counts only if the
        # whole text is that literal.
        if isinstance(value, bool):
            return value if text.lower() in ("true", "false") else Expression(text)
        if isinstance(value, int):
            return int(text) if _INTEGER.match(text) else Expression(text)
        if isinstance(value, float):
            return value if _REAL.match(text) else Expression(text)
        if isinstance(value, str):
            return value if parse_string_literal(text) is not None else Expression(text)
        return Expression(text)  # expressions, errors, lists and nested ads

    return parse
