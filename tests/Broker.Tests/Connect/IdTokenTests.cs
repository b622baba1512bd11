using System.Net;
using System.Text.RegularExpressions;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Connect;

/// <summary>
/// No Fleet id_token was ever captured publicly (tesla-confirmed §1), so a connect must not depend on one: it succeeds
/// whatever the simulator's auth server puts there, names the right Tesla user, and state, correlation and PKCE keep
/// refusing what they refused before.
/// </summary>
public sealed partial class IdTokenTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string AliceSub = "3f0c6a52-8d1e-4b7a-9c2e-5a1d7e0b4c11";

    [Theory]
    [InlineData("normal", "alice@example.com", "id_token")]
    [InlineData("absent", null, "access_token")]
    [InlineData("other-issuer", "alice@example.com", "id_token")]
    [InlineData("no-nonce", "alice@example.com", "id_token")]
    [InlineData("bad-signature", null, "access_token")]
    public async Task ConnectSucceedsWhateverTheIdTokenLooksLikeAndNamesTheRightUser(string mode, string? email, string source)
    {
        await SetIdTokenModeAsync("global", mode);

        var html = await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");

        Assert.Contains("Your Tesla account is connected", html);
        Assert.Contains("Midnight Runner", html);
        await using var db = Broker.CreateDbContext();
        var account = await db.TeslaAccounts.SingleAsync(Ct);
        Assert.Equal((AliceSub, email), (account.Subject, account.Email));
        Assert.Contains(Broker.Logs.Lines, l => l.Contains($"user named by the {source}"));
    }

    [Fact]
    public async Task TheHandlersNonceCookieIsRemovedOnceTheConnectIsDone()
    {
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");

        var landed = await user.ReturnToBrokerAsync(callback);

        user.Expect(HttpStatusCode.Redirect, landed);
        Assert.Contains(landed.Headers.GetValues("Set-Cookie"), c => c.StartsWith(".AspNetCore.OpenIdConnect.Nonce.") && c.Contains("expires=Thu, 01 Jan 1970"));
    }

    [Fact]
    public async Task AValidIdTokenNamingAnotherUserThanTheAccessTokenIsRefused()
    {
        await SetIdTokenModeAsync("global", "other-subject");
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");

        await AssertRefusedAsync(await user.ReturnToBrokerAsync(callback), HttpStatusCode.BadGateway, "tesla_refused");
    }

    [Fact]
    public async Task AValidIdTokenWithANonceThisAttemptNeverSentIsRefused()
    {
        await SetIdTokenModeAsync("global", "other-nonce");
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");

        await AssertRefusedAsync(await user.ReturnToBrokerAsync(callback), HttpStatusCode.BadRequest, "state_invalid");
    }

    [Fact]
    public async Task WithoutAnIdTokenATamperedStateIsStillRefused()
    {
        await SetIdTokenModeAsync("global", "absent");
        var user = NewUser();
        var callback = await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo");
        var tampered = StateParam().Replace(callback.ToString(), m => m.Value[..^4] + "AAAA");

        await AssertRefusedAsync(await user.ReturnToBrokerAsync(new Uri(tampered)), HttpStatusCode.BadRequest, "state_invalid");
    }

    [Fact]
    public async Task WithoutAnIdTokenACallbackInAnotherBrowserIsStillRefused()
    {
        await SetIdTokenModeAsync("global", "absent");
        var started = NewUser();
        var callback = await started.SignInAndConsentAsync(await started.StartAsync(LinkToken), "alice@example.com", "alice-demo");

        await AssertRefusedAsync(await NewUser().ReturnToBrokerAsync(callback), HttpStatusCode.BadRequest, "state_invalid");
    }

    [Fact]
    public async Task WithoutAnIdTokenACodeFromAnotherSignInIsRefusedByPkce()
    {
        await SetIdTokenModeAsync("global", "absent");
        var victim = NewUser();
        var victimCallback = await victim.SignInAndConsentAsync(await victim.StartAsync(LinkToken), "alice@example.com", "alice-demo");
        var attacker = NewUser();
        var attackerCallback = await attacker.SignInAndConsentAsync(await attacker.StartAsync(LinkToken), "bob@example.com", "bob-demo");
        // The victim's browser brings back its own state and correlation cookie, with the attacker's code in it.
        var injected = CodeParam().Replace(victimCallback.ToString(), "code=" + CodeParam().Match(attackerCallback.ToString()).Groups[1].Value);

        await AssertRefusedAsync(await victim.ReturnToBrokerAsync(new Uri(injected)), HttpStatusCode.BadRequest, "tesla_refused");
    }

    private async Task AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status, string reason)
    {
        var html = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(status == response.StatusCode, $"Expected {status}, got {response.StatusCode}: {html}\n{Broker.Logs.All}");
        Assert.Contains($"data-reason=\"{reason}\"", html);
        await using var db = Broker.CreateDbContext();
        Assert.Equal(0, await db.TeslaAccounts.CountAsync(Ct));
        Assert.Equal(0, await db.TeslaTokens.CountAsync(Ct));
    }

    [GeneratedRegex("code=([^&]+)")]
    private static partial Regex CodeParam();

    [GeneratedRegex("state=[^&]+")]
    private static partial Regex StateParam();
}
