using System.Text.Json.Nodes;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Polling;

/// <summary>
/// An account with more cars than one page of /api/1/vehicles (100): a fleet owner. Found by
/// bench/FleetScale, where such an account failed every poll (the second page was asked for from a
/// disposed answer).
/// </summary>
public sealed class LargeAccountTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const int Cars = 150;
    private static readonly Lazy<string> Seed = new(WriteSeed);

    protected override string? SimulatorSeedFile => Seed.Value;

    [Fact]
    public async Task AccountWithMoreThanAPageOfCarsIsPolledThroughEveryPage()
    {
        await NewUser().ConnectAsync(LinkToken, "bob@example.com", "bob-demo");

        await PollAccountsAsync();

        await using var db = Broker.CreateDbContext();
        var states = await (from r in db.VehicleReadings join v in db.Vehicles on r.VehicleId equals v.Id select new { v.Vin, r.State, r.LastSeenAt, r.LastError })
            .ToListAsync(Ct);
        Assert.Equal(Cars, states.Count);
        Assert.All(states, s => Assert.True(s is { State: "asleep", LastSeenAt: not null, LastError: null }, $"{s.Vin}: {s.State}, seen {s.LastSeenAt}, {s.LastError}"));
    }

    /// <summary>The demo fleet with bob's sleeping car copied into 150 cars.</summary>
    private static string WriteSeed()
    {
        var seed = JsonNode.Parse(File.ReadAllText(Path.Combine(PostgresServer.RepoRoot(), "src/TeslaSimulator/Seed/demo-fleet.json")))!;
        var bob = seed["accounts"]!.AsArray().Single(a => (string?)a!["email"] == "bob@example.com")!;
        var template = bob["vehicles"]!.AsArray().Single()!;
        var cars = new JsonArray();
        for (var i = 0; i < Cars; i++)
        {
            var car = template.DeepClone();
            car["id"] = 3_800_000_000_000_000L + i;
            car["vehicleId"] = 1_600_000_000L + i;
            car["vin"] = $"XP7YGCEK1PB{i:D6}";
            car["displayName"] = $"Fleet car {i}";
            car["state"] = "asleep";
            cars.Add(car);
        }
        bob["vehicles"] = cars;
        var path = Path.Combine(Path.GetTempPath(), $"broker-large-account-seed-{Environment.ProcessId}.json");
        File.WriteAllText(path, seed.ToJsonString());
        return path;
    }
}
