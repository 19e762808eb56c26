"""The control family: call today; branch, jump, ret and halt are reserved.

`call` runs a skill's plan as one step. Its checks and facts read the skill table the
caller gives (the verifier is pure); performing it is the machine's (`Machine.call_skill`
runs the skill's steps under its permissions intersected with the run's).
"""

from __future__ import annotations

import difflib
from typing import Any

from babel.lang import Diagnostic, Opcode, Step, as_text
from babel.verify.ops.base import FactsOf, Handler, Machine, Outcome, SkillTable, StepFacts, diag
from babel.verify.policy import Policy


class Call(Handler):
    op = "call"

    def check(self, step: Step, policy: Policy, skills: SkillTable) -> list[Diagnostic]:
        """A call names an installed skill, gives its required inputs and only known ones, and
        the skill's permissions fit the run's policy."""
        name = step.args.get("skill")
        if not isinstance(name, str):
            return [diag(step, "E_ARG_INVALID", "skill= must name a skill literally (see `babel skill list`)")]
        skill = skills.get(name)
        if skill is None:
            near = difflib.get_close_matches(name, list(skills), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; skills: {', '.join(sorted(skills)) or 'none'}"
            return [diag(step, "E_SKILL_UNKNOWN", f"no skill named {name!r}{hint}")]
        out: list[Diagnostic] = []
        known = skill.inputs.get("properties", {})
        for key in step.args:
            if key != "skill" and key not in known:
                out.append(diag(step, "E_ARG_UNKNOWN", f"skill {name} has no input {key!r} (inputs: {', '.join(known) or 'none'})"))
        for key in skill.inputs.get("required", []):
            if key not in step.args:
                out.append(diag(step, "E_ARG_MISSING", f"skill {name} needs the input {key}= ({known.get(key, {}).get('description', '')})"))
        for need in skill.needs(policy):
            out.append(diag(step, "E_SKILL_PERMISSION", f"skill {name} needs {need}, which this run's policy does not grant"))
        return out

    def facts(self, step: Step, opcode: Opcode, skills: SkillTable, facts_of: FactsOf) -> StepFacts:
        """A skill's steps' facts; a call of a skill not in the table is taken to have effects."""
        skill = skills.get(str(step.args.get("skill")))
        if skill is None:
            return StepFacts(effects=True, permission="skill")
        inner = [facts_of(s) for s in skill.plan.steps]
        return StepFacts(effects=any(f.effects for f in inner) or bool(skill.permissions.get("write")), permission="skill",
                         programs=tuple(p for f in inner for p in f.programs))

    def perform(self, step: Step, args: dict[str, Any], machine: Machine) -> Outcome:
        name = as_text(args.get("skill", ""))
        inputs = {k: v if isinstance(v, (str, list)) else as_text(v) for k, v in args.items() if k != "skill"}
        value, detail = machine.call_skill(name, inputs)
        return Outcome(value, detail)


HANDLERS: dict[str, Handler] = {h.op: h for h in (Call(),)}
