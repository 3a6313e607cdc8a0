"""Config: MJNB_* variables under arguments, base URL normalisation, refusals naming the field."""

from __future__ import annotations

import pytest

import mjnb
from mjnb import Config, ConfigError

BASES = ["https://relay.example", "https://relay.example/", "https://relay.example/mj",
         "https://relay.example/mj/", " https://relay.example/mj// ", "https://relay.example//mj"]


@pytest.mark.parametrize("url", BASES)
def test_base_url_forms_are_alike(url):
    config = Config(base_url=url)
    assert config.base_url == "https://relay.example" and config.mode is None
    assert config.api_root == "https://relay.example" and config.host == "relay.example"


def test_base_url_keeps_a_path_prefix_and_port():
    assert Config(base_url="http://10.0.0.5:8080/proxy/mj/").base_url == "http://10.0.0.5:8080/proxy"
    assert Config(base_url="https://relay.example/mjx").base_url == "https://relay.example/mjx"


@pytest.mark.parametrize("url, mode", [("https://r.example/mj-fast/mj", "fast"),
                                       ("https://r.example/mj-relax/", "relax"),
                                       ("https://r.example/mj-turbo/mj/", "turbo")])
def test_mode_prefix_in_the_base_url(url, mode):
    config = Config(base_url=url)
    assert (config.base_url, config.mode) == ("https://r.example", mode)
    assert config.api_root == f"https://r.example/mj-{mode}"
    # an explicit mode wins over the URL's
    assert Config(base_url=url, mode="fast").api_root == "https://r.example/mj-fast"


@pytest.mark.parametrize("given, mode", [("fast", "fast"), ("RELAX", "relax"), (" mj-turbo ", "turbo"),
                                         ("", None), (None, None)])
def test_mode_spellings(given, mode):
    assert Config(base_url="https://r.example", mode=given).mode == mode


def test_settings_from_env_under_arguments():
    env = {"MJNB_BASE_URL": "https://relay.example/mj/", "MJNB_API_KEY": " sk-env ", "MJNB_MODE": "relax",
           "MJNB_AUTH_HEADER": "MJ-API-SECRET", "MJNB_TIMEOUT": "12.5", "MJNB_FLAVOUR": "TrueAI",
           "UNRELATED": "x"}
    config = Config.from_env(env)
    assert (config.base_url, config.api_key, config.mode, config.auth_header, config.timeout, config.flavour) == (
        "https://relay.example", "sk-env", "relax", "mj-api-secret", 12.5, "trueai")
    over = Config.from_env(env, mode="turbo", api_key="sk-arg", timeout=None, retries=0)
    assert (over.mode, over.api_key, over.timeout, over.retries) == ("turbo", "sk-arg", 12.5, 0)
    blank = Config.from_env({"MJNB_BASE_URL": "  ", "MJNB_MODE": ""})
    assert blank.base_url is None and blank.mode is None and blank.auth_header == "bearer"


def test_client_and_configure_read_the_environment(monkeypatch):
    monkeypatch.setenv("MJNB_BASE_URL", "https://relay.example/mj-fast/mj")
    monkeypatch.setenv("MJNB_API_KEY", "sk-from-env")
    client = mjnb.Client(announce=False)
    assert client.config.base_url == "https://relay.example" and client.config.mode == "fast"
    assert not client.is_simulator and client.config.api_key == "sk-from-env"
    client.close()
    config = mjnb.configure(mode="relax")
    try:
        assert config.mode == "relax" and config.base_url == "https://relay.example"
    finally:
        monkeypatch.delenv("MJNB_BASE_URL")
        monkeypatch.delenv("MJNB_API_KEY")
        mjnb.configure()  # back to defaults for other tests (nothing started until used)


BAD = [  # (settings, the field the message must name)
    (dict(mode="slow"), "mode"),
    (dict(auth_header="basic"), "auth_header"),
    (dict(flavour="midjourney"), "flavour"),
    (dict(timeout=0), "timeout"),
    (dict(timeout="3"), "timeout"),
    (dict(backoff=-1), "backoff"),
    (dict(poll_interval=0), "poll_interval"),
    (dict(poll_max_interval=None), "poll_max_interval"),
    (dict(stall_after=0), "stall_after"),
    (dict(retries=-1), "retries"),
    (dict(retries=1.5), "retries"),
    (dict(max_image_bytes=0), "max_image_bytes"),
    (dict(base_url="relay.example"), "base_url"),
    (dict(base_url="ftp://relay.example"), "base_url"),
    (dict(base_url="https://"), "base_url"),
    (dict(base_url="https://relay.example/?key=1"), "base_url"),
    (dict(base_url=8080), "base_url"),
]


@pytest.mark.parametrize("settings, field", BAD)
def test_bad_settings_raise_config_error_naming_the_field(settings, field):
    with pytest.raises(ConfigError) as info:
        Config(**settings)
    assert field in str(info.value)
    assert isinstance(info.value, ValueError)


def test_bad_env_values_name_the_variable_or_field():
    with pytest.raises(ConfigError, match="MJNB_TIMEOUT"):
        Config.from_env({"MJNB_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="mode"):
        Config.from_env({"MJNB_MODE": "slow"})
    with pytest.raises(ConfigError, match="auth_header"):
        Config.from_env({"MJNB_AUTH_HEADER": "cookie"})
    with pytest.raises(ConfigError, match="bogus"):
        Config.from_env({}, bogus=1)
    with pytest.raises(ConfigError, match="base_url"):
        mjnb.Client("not a url", announce=False)


def test_with_changes_revalidates():
    config = Config(base_url="https://relay.example", api_key="k")
    assert config.with_changes(mode="turbo").api_root == "https://relay.example/mj-turbo"
    with pytest.raises(ConfigError, match="mode"):
        config.with_changes(mode="warp")
    assert Config(api_key="   ").api_key is None
