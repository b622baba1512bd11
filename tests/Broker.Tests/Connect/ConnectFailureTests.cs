using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Connect;

/// <summary>Every broken callback shows a readable page with a way back, logs why without secrets, and stores nothing.</summary>
public sealed partial class ConnectFailureTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    // Short enough for the timeout case to fail fast, long enough that a loaded machine (load average 20) answers the others in time.
    protected override Dictionary<string, string?> BrokerSettings => new() { ["Tesla:TokenRequestTimeoutSeconds"] = "5" };

    [Fact]
    public async Task CallbackWithoutStateIsRefused()
    {
        var user = NewUser();
        var response = await user.Browser.GetAsync("/connect/callback?code=NA_0123&locale=en-US", Ct);
        await AssertRefusedAsync(response, HttpStatusCode.BadRequest, "state_invalid", expectRetryLink: false);
    }

    [Fact]
    public async Task ReplayedCallbackIsRefusedAndAddsNothing()
    {
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");
        user.Expect(HttpStatusCode.Redirect, await user.ReturnToBrokerAsync(callback));

        var replay = await user.ReturnToBrokerAsync(callback);

        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.Contains("state_invalid", await replay.Content.ReadAsStringAsync(Ct));
        await using var db = Broker.CreateDbContext();
        Assert.Equal(1, await db.TeslaAccounts.CountAsync(Ct));
        Assert.Equal(1, await db.AuditEvents.CountAsync(Ct));
    }

    [Fact]
    public async Task CallbackInAnotherBrowserIsRefused()
    {
        var started = NewUser();
        var callback = await started.SignInAndConsentAsync(await started.StartAsync(LinkToken), "alice@example.com", "alice-demo");

        var response = await NewUser().ReturnToBrokerAsync(callback); // no correlation cookie: a foreign state

        await AssertRefusedAsync(response, HttpStatusCode.BadRequest, "state_invalid", expectRetryLink: false, code: Code(callback));
    }

    [Fact]
    public async Task CallbackWithTamperedStateIsRefused()
    {
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");
        var tampered = StateParam().Replace(callback.ToString(), m => m.Value[..^4] + "AAAA");

        var response = await user.ReturnToBrokerAsync(new Uri(tampered));

        await AssertRefusedAsync(response, HttpStatusCode.BadRequest, "state_invalid", expectRetryLink: false, code: Code(callback));
    }

    [Fact]
    public async Task CallbackAfterTheConnectExpiredIsRefused()
    {
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");
        Time.Advance(TimeSpan.FromMinutes(16));

        var response = await user.ReturnToBrokerAsync(callback);

        await AssertRefusedAsync(response, HttpStatusCode.BadRequest, "state_expired", code: Code(callback));
    }

    [Fact]
    public async Task DenyingAccessAtTeslaShowsWhatHappened()
    {
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo", action: "deny");
        Assert.Contains("error=access_denied", callback.Query);

        await AssertRefusedAsync(await user.ReturnToBrokerAsync(callback), HttpStatusCode.Forbidden, "access_denied");
    }

    [Fact]
    public async Task CancellingSignInAtTeslaShowsWhatHappened()
    {
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo", action: "cancel");
        Assert.Contains("error=login_cancelled", callback.Query);

        await AssertRefusedAsync(await user.ReturnToBrokerAsync(callback), HttpStatusCode.BadRequest, "login_cancelled");
    }

    [Fact]
    public async Task CodeThatTeslaRefusesIsReported()
    {
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");
        var forged = callback.ToString().Replace(Code(callback), "NA_" + new string('0', 48));

        await AssertRefusedAsync(await user.ReturnToBrokerAsync(new Uri(forged)), HttpStatusCode.BadRequest, "tesla_refused");
    }

    [Theory]
    [InlineData("login_required")]
    [InlineData("server_error")]
    [InlineData(null)]
    public async Task CallbackWithAnotherErrorFromTeslaIsABadRequest(string? error)
    {
        // Found by the hostile-request test: the browser that started the attempt came back with its live state, a
        // 21,602-character code and a junk `error`, and got the 502 meant for "Tesla failed". Null replays that request.
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");
        var query = error is null
            ? callback.ToString().Replace(Code(callback), new string('A', 21_602)) + "&error=" + new string('A', 9_000) + "&error_description=%0d%0aSet-Cookie"
            : $"{callback}&error={error}&error_description=Something%20went%20wrong";

        await AssertRefusedAsync(await user.ReturnToBrokerAsync(new Uri(query)), HttpStatusCode.BadRequest, "tesla_sign_in_error", code: Code(callback));
        // Our own line names the reason, not whatever the browser put in `error` (the framework's Information line, off in
        // production's "Microsoft.AspNetCore": "Warning", does repeat it).
        Assert.DoesNotContain(Broker.Logs.Lines, l => l.Contains("Connect callback failed") && l.Contains(new string('A', 100)));
    }

    [Fact]
    public async Task CodeTooLongToBeTeslasIsRefusedWithoutAskingTesla()
    {
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");
        await ResetSimCallsAsync();

        var response = await user.ReturnToBrokerAsync(new Uri(callback.ToString().Replace(Code(callback), "NA_" + new string('A', 21_599))));

        await AssertRefusedAsync(response, HttpStatusCode.BadRequest, "code_invalid", code: Code(callback));
        Assert.DoesNotContain(await SimCallsAsync(), c => c.Category == "auth");
    }

    [Theory]
    [InlineData(null, 12000, null)]            // Tesla takes longer than the broker waits (5 s)
    [InlineData(200, null, "malformed")]       // 200 with a body that is not JSON
    [InlineData(200, null, "{\"hello\":1}")]   // 200 JSON without a token
    [InlineData(503, null, null)]              // Tesla is down
    public async Task TokenEndpointThatFailsIsReported(int? status, int? delayMs, string? body)
    {
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");
        using var control = Simulator.CreateControlClient();
        var fault = await control.PostAsJsonAsync("/_sim/faults", new { path = "/oauth2/v3/token", status, delayMs, body }, Ct);
        fault.EnsureSuccessStatusCode();

        var response = await user.ReturnToBrokerAsync(callback);

        await AssertRefusedAsync(response, HttpStatusCode.GatewayTimeout, "tesla_unavailable", code: Code(callback));
    }

    [Fact]
    public async Task FleetApiFailingAfterTheCodeExchangeStoresNothing()
    {
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");
        using var control = Simulator.CreateControlClient();
        // Three times: the first answer and both retries (one 500 alone is retried away).
        (await control.PostAsJsonAsync("/_sim/faults", new { path = "/api/1/products", status = 500, count = 3 }, Ct)).EnsureSuccessStatusCode();

        await AssertRefusedAsync(await user.ReturnToBrokerAsync(callback), HttpStatusCode.GatewayTimeout, "tesla_unavailable", code: Code(callback));
    }

    [Fact]
    public async Task RevokedLinkCannotStartAConnect()
    {
        var links = await GetJsonAsync<ConnectLinkItem[]>(ApiKey, "/api/v1/connect-links");
        var revoke = await ApiClient(ApiKey).DeleteAsync($"/api/v1/connect-links/{Assert.Single(links).Id}", Ct);
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);

        var page = await NewUser().Browser.GetAsync($"/connect/{LinkToken}", Ct);

        // Gone, not unknown: the page says who withdrew it and whom to ask, which the holder of the link already knows.
        Assert.Equal(HttpStatusCode.Gone, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync(Ct);
        Assert.Contains("no longer valid", html);
        Assert.Contains("withdrew this link", html);
    }

    [Fact]
    public async Task LinkRevokedWhileTheUserIsAtTeslaStoresNothing()
    {
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");
        var links = await GetJsonAsync<ConnectLinkItem[]>(ApiKey, "/api/v1/connect-links");
        await ApiClient(ApiKey).DeleteAsync($"/api/v1/connect-links/{links[0].Id}", Ct);

        // No "Try again": the link is revoked, and trying again would only lead to the invalid-link page (found by the outside test).
        await AssertRefusedAsync(await user.ReturnToBrokerAsync(callback), HttpStatusCode.Gone, "link_revoked", expectRetryLink: false, code: Code(callback));
    }

    private sealed record ConnectLinkItem(Guid Id);

    private async Task AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status, string reason, bool expectRetryLink = true, string? code = null)
    {
        var html = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(status == response.StatusCode, $"Expected {status}, got {response.StatusCode}: {html}\n{Broker.Logs.All}");
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"data-reason=\"{reason}\"", html);
        Assert.Contains("nothing was saved", html, StringComparison.OrdinalIgnoreCase);
        if (expectRetryLink)
        {
            Assert.Contains($"href=\"/connect/{LinkToken}\"", html);
        }
        Assert.Contains(Broker.Logs.Lines, l => l.Contains("Connect callback failed: " + reason));
        if (code is not null)
        {
            Assert.DoesNotContain(code, Broker.Logs.All);
            Assert.DoesNotContain(code, html);
        }
        await using var db = Broker.CreateDbContext();
        Assert.Equal(0, await db.TeslaAccounts.CountAsync(Ct));
        Assert.Equal(0, await db.TeslaTokens.CountAsync(Ct));
        Assert.Equal(0, await db.Vehicles.CountAsync(Ct));
        Assert.Equal(0, await db.AuditEvents.CountAsync(a => a.Action.StartsWith("account."), Ct));
    }

    private static string Code(Uri callback) => CodeParam().Match(callback.Query).Groups[1].Value;

    [GeneratedRegex("code=([^&]+)")]
    private static partial Regex CodeParam();

    [GeneratedRegex("state=[^&]+")]
    private static partial Regex StateParam();
}
