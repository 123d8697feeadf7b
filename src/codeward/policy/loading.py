"""Building the merged :class:`~codeward.policy.rules.Policy` for a workspace (DESIGN §3).

The config's ``[policy]`` lists first, then the policy blocks of every AGENTS.md that applies
(``$CODEWARD_HOME/AGENTS.md`` is the user's; repository files are not).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from codeward.errors import ConfigError
from codeward.policy.agents_md import parse_agents_policy
from codeward.policy.rules import Policy, check_patterns

if TYPE_CHECKING:
    from codeward.config.model import Config
    from codeward.workspace import Workspace


def load_policy(workspace: Workspace, config: Config, home: Path) -> Policy:
    """The config's ``[policy]`` lists plus the policy blocks of every AGENTS.md that applies.

    ``$CODEWARD_HOME/AGENTS.md`` is the user's (``user_owned=True``); repository files are not, and
    are named by their path from the repository root (``sub/AGENTS.md:3``).
    """
    policy = Policy.from_config(config.policy)
    global_file = (home / "AGENTS.md").absolute()
    for f in workspace.agents_files(home):
        user_owned = f.absolute() == global_file
        if user_owned:
            source = str(f)
        else:
            try:
                source = f.relative_to(workspace.root).as_posix()
            except ValueError:
                source = str(f)
        try:
            text = f.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise ConfigError(f"{f}: cannot read AGENTS.md ({e.strerror}); fix its permissions or remove it") from None
        policy.extend(parse_agents_policy(text, source, user_owned=user_owned))
    check_patterns(policy)
    return policy
