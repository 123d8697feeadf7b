"""False refusals: commands an agent runs every day must pass an empty policy in full-auto.

A policy engine that refuses ordinary commands gets switched off. Each of these is allowed
(nothing forbids it, nothing in it is unknowable); the known exceptions are listed with the reason.
"""

from __future__ import annotations

import pytest

from codeward.policy import Policy, decide_command

EVERYDAY = [
    "pip install requests==2.31",
    'python -m pip install "x>=1"',
    "git log --format=%H -n 5",
    "awk '{print $1}' file.txt",
    "sed -i 's/a/b/g' f.txt",
    'find . -name "*.py" | xargs grep -n foo',
    "docker run -e A=B img",
    "kubectl get pods -o=jsonpath='{.items}'",
    "echo a=b",
    "test a == b",
    '[ "$a" == b ]',
    "npm run build -- --prod",
    'curl -H "Authorization: Bearer x" https://example.com',
    "make -j$(nproc)",
    'for f in *.txt; do echo "$f"; done',
    "cat file | jq '.a'",
    "echo $((1+2))",
    "ls -la ~",
    "cd .. && ls",
    'python -c "import sys; print(sys.argv)"',
    "gcc -o out main.c -Wall",
    "go test ./...",
    "cargo build --release",
    "tar -czf a.tgz dir/",
    'grep -rn "TODO" src/ --include=*.py',
    "git diff HEAD~1 -- src/",
    "export FOO=bar",
    "VAR=1 make",
    "./configure --prefix=/usr",
    'echo "done" && exit 0',
    "sleep 1; echo hi",
    "time make",
    "(cd sub && make)",
    "env | grep PATH",
    "ps aux | grep python | awk '{print $2}'",
    'git commit -am "fix: handle == in parser"',
    "python3 - <<'PYEOF'\nprint('hi')\nPYEOF",
    "cat > out.txt <<TXT\nvalue: $HOME\nTXT",
    "if [ -f setup.py ]; then pip install -e .; fi",
    "rg -n \"foo|bar\" --glob '!*.lock'",
    'npx prettier --write "src/**/*.ts"',
    "git stash && git pull --rebase && git stash pop",
    "sed -n '1,20p' README.md",
    "head -c 100 /dev/urandom | base64",
    'while read -r line; do echo "$line"; done < input.txt',
    'echo "${HOME}/x"',
    'ls "$(pwd)"',
    "command -v python3",
    "exec 3>&1",
    "set -euo pipefail; pytest -q",
    'pytest -k "not slow" -x',
    "uv run pytest",
    "mkdir -p build && cd build && cmake .. && make",
    "git -C sub status --short",
    "ls *.py | wc -l",
    "du -sh * | sort -h",
    "cat <<'JSON' | python3 -m json.tool\n{\"a\": 1}\nJSON",
    "printf '%s\\n' a b c | sort",
    "echo $HOME",
    "NODE_ENV=test npm test",
    "diff <(sort a) <(sort b)",
    "test -d .venv || python3 -m venv .venv",
    "source .venv/bin/activate && pytest",
    "[[ $x =~ ^[0-9]+$ ]] && echo num",
    "trap 'rm -f /tmp/t.$$' EXIT; echo work",
    "xargs -n1 echo < list.txt",
    "find . -type f -name '*.pyc' -delete",
    "git ls-files | grep -v '^vendor/' | xargs wc -l",
]


@pytest.mark.parametrize("command", EVERYDAY)
def test_everyday_commands_are_allowed(command: str) -> None:
    d = decide_command(command, "full-auto", Policy())
    assert d.decision == "allow", d.reason


# tree-sitter-bash cannot parse these valid commands; the engine refuses them (fail closed) and says so
KNOWN_REFUSALS = [
    "echo ==",
    "time { make; make test; }",
    "echo \\$(date)",
]


@pytest.mark.parametrize("command", KNOWN_REFUSALS)
def test_known_parser_limits_are_refused_with_a_reason(command: str) -> None:
    d = decide_command(command, "full-auto", Policy())
    assert d.decision == "deny"
    assert "cannot be" in d.reason
