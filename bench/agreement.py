#!/usr/bin/env python3
"""How often `gate check` agrees with a careful reviewer on tests/fixtures/reviewed/.

Each case directory holds specs/ and case.toml (the reviewer's verdict and, for a failing
feature, the first real problem as path:line, or path:missing). The case is committed in a
scratch repository in workflow order (every spec.md, checklists/, then plan.md, then tasks.md,
then the rest) on its branch, and `gate check --json` is asked.

    python3 bench/agreement.py [path/to/gate]     # default target/debug/gate

Agreement on the verdict alone and on verdict plus first problem are both printed.
"""
import json, os, subprocess, sys, tempfile, tomllib

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
gate = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target/debug/gate"))
cases_dir = os.path.join(root, "tests/fixtures/reviewed")
env = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1", NO_COLOR="1",
           GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
           GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
env = {k: v for k, v in env.items() if not k.startswith("GATE_") and k != "SPECIFY_FEATURE_DIRECTORY"}


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def stage_order(rel):
    name = os.path.basename(rel)
    if name == "spec.md" or "/checklists/" in rel:
        return 0
    return {"plan.md": 1, "tasks.md": 2}.get(name, 3)


def judge(case):
    with open(os.path.join(cases_dir, case, "case.toml"), "rb") as f:
        want = tomllib.load(f)
    with tempfile.TemporaryDirectory() as repo:
        git(repo, "init", "-q", "-b", "main")
        open(os.path.join(repo, "README.md"), "w").write("# project\n")
        git(repo, "add", "README.md")
        git(repo, "commit", "-qm", "initial commit", "--no-verify")
        git(repo, "switch", "-q", "-c", want["branch"])
        src = os.path.join(cases_dir, case)
        files = []
        for dirpath, _, names in os.walk(os.path.join(src, "specs")):
            for n in names:
                files.append(os.path.relpath(os.path.join(dirpath, n), src))
        for step in range(4):
            batch = sorted(f for f in files if stage_order(f) == step)
            for rel in batch:
                dst = os.path.join(repo, rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(os.path.join(src, rel), "rb") as a, open(dst, "wb") as b:
                    b.write(a.read())
            if batch:
                git(repo, "add", *batch)
                git(repo, "commit", "-qm", f"step {step}", "--no-verify")
        out = subprocess.run([gate, "check", "--json"], cwd=repo, env=env, capture_output=True, text=True)
        got_verdict, first = "error", None
        if out.stdout.strip():
            doc = json.loads(out.stdout)
            got_verdict = "pass" if doc["ok"] else "fail"
            for a in doc.get("artifacts", []):
                if not a["exists"]:
                    first = f'{a["path"]}:missing'
                    break
                if a["findings"]:
                    f0 = a["findings"][0]
                    first = f'{f0.get("path", a["path"])}:{f0["line"]}'
                    break
        return want, got_verdict, first, out.stderr.strip()


cases = sorted(d for d in os.listdir(cases_dir) if os.path.isdir(os.path.join(cases_dir, d)))
verdicts = full = 0
for case in cases:
    want, verdict, first, err = judge(case)
    v_ok = verdict == want["verdict"]
    f_ok = v_ok and (verdict == "pass" or first == want.get("first_problem"))
    verdicts += v_ok
    full += f_ok
    mark = "agree" if f_ok else ("verdict only" if v_ok else "DISAGREE")
    detail = f"{verdict} {first or ''}".strip() if verdict != "error" else f"error: {err[:90]}"
    print(f"{mark:13} {case:30} reviewer {want['verdict']} {want.get('first_problem', '')} | gate {detail}")
print(f"verdict agrees on {verdicts}/{len(cases)}; verdict and first problem on {full}/{len(cases)}")
