using System.Net;
using System.Text.RegularExpressions;
using Broker.Accounts;
using Broker.Connect;
using Broker.Tests.Infrastructure;
using Broker.Vault;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Broker.Tests.Connect;

public sealed class ConnectFlowTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    // What a new tenant's connect asks for: the configured scopes, and vehicle_charging_cmds for the charging commands its policy allows.
    private static readonly string[] EveryScope = ["openid", "offline_access", "vehicle_device_data", "vehicle_location", "energy_device_data", "vehicle_charging_cmds"];

    [Fact]
    public async Task ConnectingWithEveryScopeLinksVehiclesAndEnergySites()
    {
        var html = await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");

        Assert.Contains("Your Tesla account is connected", html);
        Assert.Contains("Midnight Runner", html);
        Assert.Contains("Blue Yonder", html);
        Assert.Contains("Alice&#x27;s Home", html);
        Assert.Contains("Everything Broker asked for was shared", html);
        Assert.DoesNotContain("missing-scopes", html);

        var accounts = await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts");
        var account = Assert.Single(accounts);
        Assert.Equal("active", account.Status);
        Assert.Equal("na", account.Region);
        Assert.Equal(EveryScope.Order(), account.GrantedScopes.Order());
        Assert.Empty(account.MissingScopes);
        Assert.Equal(2, account.Vehicles.Length);
        Assert.Single(account.EnergySites);
        Assert.Contains(account.EnergySites, s => s.HasBattery);
    }

    /// <summary>Found by the outside test: the result URL showed the owner's email, cars and VINs in any browser it was pasted into.</summary>
    [Fact]
    public async Task TheResultPageOpensOnlyInTheBrowserThatConnected()
    {
        var user = NewUser();
        var landed = await user.ReturnToBrokerAsync(await user.SignInAndConsentAsync(await user.StartAsync(LinkToken), "alice@example.com", "alice-demo"));
        var result = landed.Headers.Location!.OriginalString;

        var own = await user.Browser.GetAsync(result, Ct);
        var elsewhere = await Broker.CreateBrowser().GetAsync(result, Ct);

        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
        var page = await elsewhere.Content.ReadAsStringAsync(Ct);
        Assert.Contains("data-reason=\"result_unavailable\"", page);
        Assert.DoesNotContain("Midnight Runner", page);
        Assert.DoesNotContain("5YJ3E1EA7PF381204", page);
    }

    [Fact]
    public async Task DatabaseAndLogsHoldNoPlaintextTokenAfterConnect()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");

        await using var db = Broker.CreateDbContext();
        var row = await db.TeslaTokens.SingleAsync(Ct);
        var vault = Broker.Services.GetRequiredService<TokenVault>();
        var access = vault.Decrypt(row.AccessTokenCipher, TokenContext.Access(row.AccountId));
        var refresh = vault.Decrypt(row.RefreshTokenCipher!, TokenContext.Refresh(row.AccountId));
        Assert.StartsWith("NA_", refresh);
        Assert.Equal(3, access.Split('.').Length); // a JWT

        var everything = await DumpDatabaseAsync();
        Assert.DoesNotContain(refresh, everything);
        Assert.DoesNotContain(access, everything);
        Assert.DoesNotContain(access.Split('.')[1], everything); // not even the claims part
        Assert.DoesNotContain(refresh, Broker.Logs.All);
        Assert.DoesNotContain(access.Split('.')[1], Broker.Logs.All);
    }

    [Fact]
    public async Task PartialScopesResultPageSaysWhatIsMissingAndOffersToAskAgain()
    {
        var html = await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo",
            ["openid", "offline_access", "vehicle_device_data"]);

        Assert.Contains("connected, with limits", html);
        Assert.Contains("No location", html);
        Assert.Contains("No energy data", html);
        Assert.Contains("Energy product information is not shared", html);
        Assert.Contains("Ask Tesla again for what is missing", html);
        Assert.Contains("Midnight Runner", html);

        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Equal(["energy_device_data", "vehicle_charging_cmds", "vehicle_location"], account.MissingScopes.Order());
        Assert.Empty(account.EnergySites);
    }

    [Fact]
    public async Task AskingAgainSendsPromptMissingScopesAndUpdatesTheSameAccount()
    {
        var user = NewUser();
        await user.ConnectAsync(LinkToken, "alice@example.com", "alice-demo", ["openid", "offline_access", "vehicle_device_data"]);

        var authorize = await user.StartAsync(LinkToken, askMissing: true);
        Assert.Contains("prompt_missing_scopes=true", authorize.Query);
        var landed = await user.ReturnToBrokerAsync(await user.SignInAndConsentAsync(authorize, "alice@example.com", "alice-demo"));
        user.Expect(HttpStatusCode.Redirect, landed);
        var html = await (await user.Browser.GetAsync(landed.Headers.Location, Ct)).Content.ReadAsStringAsync(Ct);

        Assert.Contains("Everything Broker asked for was shared", html);
        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Empty(account.MissingScopes);
        Assert.Single(account.EnergySites);
    }

    [Fact]
    public async Task ReconnectingTheSameTeslaAccountUpdatesItInsteadOfDuplicating()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var first = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        await using (var db = Broker.CreateDbContext())
        {
            await db.TeslaAccounts.ExecuteUpdateAsync(s => s.SetProperty(a => a.Status, AccountStatus.NeedsReconnect), Ct);
        }
        var oldCipher = await RefreshCipherAsync();

        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");

        var again = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Equal(first.Id, again.Id);
        Assert.Equal("active", again.Status);
        Assert.Equal(2, again.Vehicles.Length);
        Assert.NotEqual(oldCipher, await RefreshCipherAsync());
        await using var check = Broker.CreateDbContext();
        Assert.Equal(2, await check.Vehicles.CountAsync(Ct));
        Assert.Equal(["account.connected", "account.reconnected"], await check.AuditEvents.OrderBy(e => e.Id).Select(e => e.Action).ToListAsync(Ct));
    }

    [Fact]
    public async Task ASecondTeslaAccountInAnotherRegionIsLinkedBesideTheFirst()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var html = await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");

        Assert.Contains("Nachtfalke", html);
        var accounts = await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts");
        Assert.Equal(2, accounts.Length);
        Assert.Equal(["eu", "na"], accounts.Select(a => a.Region).Order());
        await using var db = Broker.CreateDbContext();
        var bob = await db.TeslaAccounts.SingleAsync(a => a.Region == "eu", Ct);
        Assert.Equal(SimulatorHost.EuBase, bob.FleetApiBaseUrl);
    }

    private async Task<byte[]> RefreshCipherAsync()
    {
        await using var db = Broker.CreateDbContext();
        return (await db.TeslaTokens.SingleAsync(Ct)).RefreshTokenCipher!;
    }

    /// <summary>Every row of every table in the broker's database, as text.</summary>
    private async Task<string> DumpDatabaseAsync()
    {
        await using var connection = new NpgsqlConnection(Broker.ConnectionString);
        await connection.OpenAsync(Ct);
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", connection))
        await using (var reader = await list.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                tables.Add(reader.GetString(0));
            }
        }
        var dump = new System.Text.StringBuilder();
        foreach (var table in tables)
        {
            await using var select = new NpgsqlCommand($"SELECT row_to_json(t)::text FROM \"{table}\" t", connection);
            await using var reader = await select.ExecuteReaderAsync(Ct);
            while (await reader.ReadAsync(Ct))
            {
                dump.AppendLine(reader.GetString(0));
            }
        }
        Assert.Contains("tesla_tokens", tables);
        return dump.ToString();
    }
}
