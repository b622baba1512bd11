using System.Text.Json.Nodes;
using Broker.Accounts;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Connect;

/// <summary>
/// Text Tesla sends is cleaned, not trusted: a car named with a NUL (which Postgres cannot store) and line breaks once
/// failed the whole connect. The person connects; the name is kept without the control characters.
/// </summary>
public sealed class TeslaTextTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private static readonly Lazy<string> Seed = new(WriteSeed);

    protected override string? SimulatorSeedFile => Seed.Value;

    [Fact]
    public async Task ACarNamedWithControlCharactersStillConnectsUnderItsCleanName()
    {
        var page = await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");

        Assert.Contains("Night Owl", page);
        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        Assert.Contains(account.Vehicles, v => v.DisplayName == "Night Owl");
        await PollAccountsAsync();
        Assert.Contains("Night Owl", await ScrapeMetricsAsync(ApiKey));
        Assert.Empty(await DatabaseSnapshot.ControlCharactersAsync(Broker.ConnectionString, Ct));
        await using var db = Broker.CreateDbContext();
        Assert.Equal(2, await db.Vehicles.CountAsync(Ct));
    }

    /// <summary>The demo fleet with alice's first car renamed "Night\0 Owl\r\n\u0007\u0085\u202E\u200B".</summary>
    private static string WriteSeed()
    {
        var seed = JsonNode.Parse(File.ReadAllText(Path.Combine(PostgresServer.RepoRoot(), "src/TeslaSimulator/Seed/demo-fleet.json")))!;
        var alice = seed["accounts"]!.AsArray().Single(a => (string?)a!["email"] == "alice@example.com")!;
        alice["vehicles"]![0]!["displayName"] = "Night\0 Owl\r\n\u0007\u0085\u202E\u200B";
        var path = Path.Combine(Path.GetTempPath(), $"broker-control-text-seed-{Environment.ProcessId}.json");
        File.WriteAllText(path, seed.ToJsonString());
        return path;
    }
}
