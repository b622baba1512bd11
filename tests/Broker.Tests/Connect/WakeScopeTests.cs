using System.Net.Http.Json;
using Broker.Accounts;
using Broker.Tests.Infrastructure;
using Microsoft.AspNetCore.WebUtilities;

namespace Broker.Tests.Connect;

/// <summary>
/// Tesla's scope table files wake-up under <c>vehicle_cmds</c> (tesla-confirmed §3): a tenant that lets the broker wake
/// its cars asks for it at connect, and an account without it shows the scope as missing.
/// </summary>
public sealed class WakeScopeTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private static readonly string[] DataScopes = ["openid", "offline_access", "vehicle_device_data", "vehicle_location", "energy_device_data"];

    [Fact]
    public async Task ATenantThatWakesCarsAsksForVehicleCmdsAndOneThatDoesNotNever()
    {
        Assert.DoesNotContain("vehicle_cmds", Scopes(await NewUser().StartAsync(LinkToken)));

        await AllowWakingAsync();
        var user = NewUser();
        var page = await user.Browser.GetStringAsync($"/connect/{LinkToken}", Ct);

        Assert.Contains("waking your vehicles", page);
        Assert.Contains("vehicle_cmds", Scopes(await user.StartAsync(LinkToken)));
    }

    [Fact]
    public async Task AWakingTenantsAccountWithoutVehicleCmdsShowsItMissing()
    {
        await AllowWakingAsync();

        var html = await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo", DataScopes.Skip(1).ToArray());

        Assert.Contains("<code>vehicle_cmds</code>", html);
        Assert.Contains("No waking", html);
        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Equal(["vehicle_cmds"], account.MissingScopes);
        Assert.Contains("missing_scopes", account.Attention);
    }

    [Fact]
    public async Task GrantedVehicleCmdsIsStoredAndNothingIsMissing()
    {
        await AllowWakingAsync();

        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");

        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Contains("vehicle_cmds", account.GrantedScopes);
        Assert.Empty(account.MissingScopes);
    }

    [Fact]
    public async Task TurningWakingOnMarksAccountsLinkedWithoutVehicleCmds()
    {
        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");
        Assert.Empty(Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts")).MissingScopes);

        await AllowWakingAsync();

        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Equal(["vehicle_cmds"], account.MissingScopes);
    }

    private async Task AllowWakingAsync() =>
        (await ApiClient(ApiKey).PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = 30 }, Ct)).EnsureSuccessStatusCode();

    private static string[] Scopes(Uri authorize) => QueryHelpers.ParseQuery(authorize.Query)["scope"].ToString().Split(' ');
}
