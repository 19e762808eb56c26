"""The sandbox device: the hardened Docker executor and the workspace commit.

This module is the part's public face: other parts import from here, never from its modules.
"""

from babel.sandbox.docker import SandboxError, build_image, doctor, started
from babel.sandbox.workspace import (
    Change,
    CommitRefused,
    Original,
    WorkspaceError,
    apply_changes,
    check_changes,
    read_originals,
    recover_commits,
)

__all__ = [
    'Change', 'CommitRefused', 'Original', 'SandboxError', 'WorkspaceError', 'apply_changes', 'build_image',
    'check_changes', 'doctor', 'read_originals', 'recover_commits', 'started',
]
