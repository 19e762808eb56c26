"""Skills: YAML-defined plans with typed inputs, loaded from the directories the application gives.

This module is the part's public face: other parts import from here, never from its modules.
"""

from babel.skills.table import (
    NO_SKILLS,
    Registry,
    Skill,
    SkillInputError,
    SkillMap,
    bind_inputs,
    load_skill,
    load_skills,
    new_skill,
    skill_dirs,
    skill_index,
    skill_policy,
)

__all__ = [
    'NO_SKILLS', 'Registry', 'Skill', 'SkillInputError', 'SkillMap', 'bind_inputs',
    'load_skill', 'load_skills', 'new_skill', 'skill_dirs', 'skill_index', 'skill_policy',
]
