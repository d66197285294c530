from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_shows_the_alertmanager_config_the_tests_use():
    example = (REPO / "examples" / "alertmanager.yml").read_text().rstrip("\n")
    readme = (REPO / "README.md").read_text()
    assert f"```yaml\n{example}\n```" in readme


def test_ci_runs_exactly_the_readmes_test_command():
    readme = (REPO / "README.md").read_text()
    assert "./scripts/test      # run the whole test suite" in readme
    assert (REPO / ".ci" / "run").read_text().rstrip().endswith("./scripts/test")
