"""A new user opens the console on a moto estate: the morning report loads with its charts (htmx and Chart.js
served from the package, nothing from another host), and one click on a finding's Fix, then Confirm, makes the
public bucket private, read back with boto3, and the act is in the ledger."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, expect

from escher.console.app import RunningConsole
from tests.functional.console_browser.conftest import Estate, signed_in


def test_report_loads_with_vendored_scripts_only(
    context: BrowserContext, console: RunningConsole, estate: Estate
) -> None:
    # WHEN the user opens the URL escher console printed
    visit = signed_in(context, console)
    page = visit.page
    # THEN the token is gone from the address bar, and the report is there with its headline and charts
    assert "token=" not in page.url
    expect(page.locator("#headline")).to_be_visible()
    expect(page.locator("#cost-trend-chart, #severity-chart").first).to_be_attached()
    # htmx 2 and Chart.js 4 came from /static/vendor on this server, and no request left it
    page.wait_for_function("() => window.htmx !== undefined && window.Chart !== undefined")
    assert page.evaluate("() => window.htmx.version").startswith("2.")
    assert page.evaluate("() => window.Chart.version").startswith("4.")
    hosts = {urlsplit(u).netloc for u in visit.requests if not u.startswith(("data:", "blob:"))}
    assert hosts == {f"127.0.0.1:{console.port}"}
    assert f"{console.base_url}/static/vendor/htmx.min.js" in visit.requests
    # Chart.js drew on the severity chart's canvas (a drawn canvas is not blank)
    drawn = page.evaluate(
        """() => { const c = document.querySelector('#severity-chart');
                   return !!c && !!window.Chart.getChart(c); }"""
    )
    assert drawn, "Chart.js did not draw the severity chart"
    assert visit.errors == []


def test_one_click_fix_makes_the_bucket_private(
    context: BrowserContext, console: RunningConsole, estate: Estate
) -> None:
    # GIVEN the report shows the public bucket with a Fix button
    visit = signed_in(context, console)
    page = visit.page
    finding = page.locator("article.finding[data-check-id='aws.s3.bucket_public']")
    expect(finding).to_have_count(1)
    expect(finding).to_contain_text(estate.bucket)
    before = estate.s3.get_bucket_acl(Bucket=estate.bucket)["Grants"]
    assert any("AllUsers" in str(g.get("Grantee")) for g in before)
    # WHEN the user clicks Fix: the plan shows what will change (now -> wanted), its targets and risk
    finding.locator("button[data-action='fix']").click()
    expect(page.locator("#plan")).to_be_visible()
    plan = page.locator("#plan[data-plan-id], #plan [data-plan-id]").first
    assert plan.get_attribute("data-operation") == "aws.s3.block_public_access"
    expect(page.locator("#plan-changes")).to_contain_text(estate.bucket)
    assert (plan.get_attribute("data-risk") or "") != ""
    # nothing has changed yet
    assert _blocked(estate) is False
    # AND confirms it (a manager alone approves their own medium-risk step with a reason, when the gate asks)
    if plan.get_attribute("data-needs-approval") == "true":
        plan.locator("input[name='approve_reason']").fill("public PII bucket: make it private now")
    plan.locator("button[data-action='confirm']").click()
    # THEN it ran through the engine and was verified, and moto says the bucket blocks public access
    result = page.locator("#plan-result")
    expect(result).to_have_attribute("data-outcome", "executed")
    assert _blocked(estate) is True
    # and the act is in the ledger the audit page reads
    page.goto(console.base_url + "/audit")
    expect(page.locator("main")).to_contain_text("aws.s3.block_public_access")
    assert visit.errors == []


def _blocked(estate: Estate) -> bool:
    from botocore.exceptions import ClientError

    try:
        conf = estate.s3.get_public_access_block(Bucket=estate.bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if "NoSuchPublicAccessBlockConfiguration" in str(exc):
            return False
        raise
    return all(conf.values())
