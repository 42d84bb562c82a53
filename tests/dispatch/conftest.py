import pytest


@pytest.fixture
def worker_env(tmp_path):
    """Environment overrides every dispatch test worker gets: no subscriber files, few task workers."""
    subscribers = tmp_path / "subscribers"
    subscribers.mkdir()
    return {"ESS_SUBSCRIBERS_DIR": str(subscribers), "ESS_Q_WORKERS": "1"}
