using System.Text.Json.Nodes;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Polling;

/// <summary>
/// The demo fleet (alice: a driving and a charging car and a Powerwall, NA; bob: a sleeping car, EU) and, for more
/// accounts, copies of them taking turns: <c>alice01@replicas.test</c>, <c>bob02@replicas.test</c>, … with their own ids.
/// </summary>
public static class ReplicaFleet
{
    public static IEnumerable<(string Email, string Password)> People(int accounts) => Enumerable.Range(0, accounts).Select(Person);

    private static (string Email, string Password) Person(int i) => i switch
    {
        0 => ("alice@example.com", "alice-demo"),
        1 => ("bob@example.com", "bob-demo"),
        _ => ($"{Template(i)}{i:D2}@replicas.test", $"{Template(i)}-demo"),
    };

    /// <summary>Writes a seed with <paramref name="accounts"/> accounts (at least the two demo ones) and returns its path.</summary>
    public static string WriteSeed(int accounts)
    {
        var seed = JsonNode.Parse(File.ReadAllText(Path.Combine(PostgresServer.RepoRoot(), "src/TeslaSimulator/Seed/demo-fleet.json")))!;
        var list = seed["accounts"]!.AsArray();
        var templates = list.ToDictionary(a => ((string)a!["email"]!).Split('@')[0], a => a!);
        for (var i = 2; i < accounts; i++)
        {
            var copy = templates[Template(i)].DeepClone();
            copy["email"] = Person(i).Email;
            copy["sub"] = Guid.NewGuid().ToString();
            copy["userId"] = 3_000_000 + i;
            copy["fullName"] = $"Replica owner {i}";
            var n = 0;
            foreach (var car in copy["vehicles"]!.AsArray())
            {
                car!["id"] = 3_700_000_000_000_000L + i * 10 + n;
                car["vehicleId"] = 1_650_000_000L + i * 10 + n;
                car["vin"] = $"5YJ3REPL{i:D3}{n++:D6}";
                car["displayName"] = $"Replica car {i}.{n}";
            }
            foreach (var site in copy["energySites"]!.AsArray())
            {
                site!["energySiteId"] = 2_260_000_000L + i;
                site["id"] = $"STE-REPLICA-{i:D3}";
                site["gatewayId"] = $"GW-REPLICA-{i:D3}";
                site["assetSiteId"] = Guid.NewGuid().ToString();
                site["siteName"] = $"Replica home {i}";
            }
            list.Add(copy);
        }
        var path = Path.Combine(Path.GetTempPath(), $"broker-replicas-seed-{Environment.ProcessId}-{accounts}.json");
        File.WriteAllText(path, seed.ToJsonString());
        return path;
    }

    private static string Template(int i) => i % 2 == 0 ? "alice" : "bob";
}
