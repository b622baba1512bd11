using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Connect;

/// <summary>
/// Where an account's email comes from when no validated id_token names it: <c>/api/1/users/me</c>, only if the owner
/// granted <c>user_data</c> (asked for here through Tesla:Scopes; the default asks for no profile).
/// </summary>
public sealed class ConnectEmailTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private static readonly string[] WithoutUserData = ["openid", "offline_access", "vehicle_device_data"];

    // The binder appends configured array items to the defaults: the default scopes plus user_data.
    protected override Dictionary<string, string?> BrokerSettings => new() { ["Tesla:Scopes:0"] = "user_data" };

    [Fact]
    public async Task WithoutAnIdTokenTheEmailComesFromUsersMeWhenUserDataWasGranted()
    {
        await SetIdTokenModeAsync("global", "absent");

        var html = await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");

        Assert.Contains("for alice@example.com", html);
        Assert.Equal("alice@example.com", await EmailAsync());
    }

    [Fact]
    public async Task WithoutAnIdTokenOrUserDataTheEmailStaysUnknownAndUsersMeIsNotAsked()
    {
        await SetIdTokenModeAsync("global", "absent");
        await ResetSimCallsAsync();

        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo", WithoutUserData);

        Assert.Null(await EmailAsync());
        Assert.DoesNotContain(await SimCallsAsync(), c => c.Status == 403); // users/me without user_data would be a 403
    }

    [Fact]
    public async Task AReconnectWithoutAnIdTokenKeepsTheEmailKnownBefore()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo", WithoutUserData);
        Assert.Equal("alice@example.com", await EmailAsync()); // from the validated id_token
        await SetIdTokenModeAsync("global", "absent");

        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo", WithoutUserData);

        Assert.Equal("alice@example.com", await EmailAsync());
    }

    private async Task<string?> EmailAsync()
    {
        await using var db = Broker.CreateDbContext();
        return await db.TeslaAccounts.Select(a => a.Email).SingleAsync(Ct);
    }
}
