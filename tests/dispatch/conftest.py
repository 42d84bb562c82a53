import pytest


@pytest.fixture
def worker_env(tmp_path):
    """Environment overrides every dispatch test worker gets: no subscriber files, few task workers."""
    subscribers = tmp_path / "subscribers"
    subscribers.mkdir()
    return {"ESS_SUBSCRIBERS_DIR": str(subscribers), "ESS_Q_WORKERS": "1"}


@pytest.fixture(autouse=True)
def _fresh_throttle_check():
    """Each test creates its own subscribers: the claim must not trust a previous test's look."""
    from hub.services.deliveries.claims import throttled_check_forget

    throttled_check_forget()
