
import pytest  # noqa: E402

from tests.orgruntime.llm.fake_openai import FakeOpenAI  # noqa: E402


@pytest.fixture
def fake_openai():
    server = FakeOpenAI().start()
    yield server
    server.stop()
