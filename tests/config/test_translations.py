import re
from pathlib import Path

import pytest
from django.urls import reverse

CATALOGS = sorted((Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES").glob("*.po"))


def _entries(po_text: str):
    """Yield (msgid, [msgstr…], is_fuzzy) for each entry of a .po file."""
    for block in re.split(r"\n\s*\n", po_text):
        lines = [line for line in block.splitlines() if line and not line.startswith("#~")]
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        fields: dict[str, str] = {}
        current = None
        for line in lines:
            match = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d+\])?|msgctxt) "(.*)"$', line)
            if match:
                current = match.group(1)
                fields[current] = match.group(2)
            elif line.startswith('"') and current:
                fields[current] += line[1:-1]
        if "msgid" in fields and fields["msgid"]:
            yield fields["msgid"], [v for k, v in fields.items() if k.startswith("msgstr")], fuzzy


def test_the_chinese_catalog_exists_and_is_compiled():
    assert CATALOGS, "locale/zh_Hans/LC_MESSAGES/django.po is missing"
    for po in CATALOGS:
        assert po.with_suffix(".mo").exists(), f"{po.name} is not compiled (make messages)"


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.name)
def test_every_message_has_a_chinese_translation(po):
    missing = [msgid for msgid, strs, fuzzy in _entries(po.read_text("utf-8")) if fuzzy or not all(strs)]
    assert not missing, f"{len(missing)} untranslated or fuzzy messages, e.g. {missing[:5]}"


@pytest.mark.django_db
def test_language_switch_shows_the_site_in_chinese_and_back(client_as):
    client = client_as("sales")
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"}, follow=True)
    html = response.content.decode()
    assert 'lang="zh-hans"' in html
    assert "退出" in html  # "Log out"
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"}, follow=True)
    assert "Log out" in response.content.decode()


def test_login_page_follows_the_browser_language(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert "登录" in response.content.decode()
