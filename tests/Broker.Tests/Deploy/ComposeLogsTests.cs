using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Deploy;

/// <summary>
/// The real Broker.dll with the log levels it ships (appsettings.json) and the console settings of docker-compose.yml
/// (<c>Logging__*</c>) polls an account with two cars: every line it writes is one JSON object, and none names a VIN.
/// HttpClient's request lines (each Fleet API URL, VIN included) used to be about 88 plain lines a minute for one account.
/// </summary>
public sealed partial class ComposeLogsTests(PostgresServer postgres)
{
    private static readonly string[] AliceVins = ["5YJ3E1EA7PF381204", "7SAYGDEE5PA114587"];
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AReplicaWithTheComposeLoggingWritesJsonLinesAndNoVinWhilePolling()
    {
        await using var simulator = new SimulatorHost(Loopback(), Loopback(), Loopback());
        var settings = BrokerProcess.SettingsFor(await postgres.CreateDatabaseAsync(), simulator);
        foreach (var key in settings.Keys.Where(k => k.StartsWith("Logging__")).ToList())
        {
            settings.Remove(key); // the test defaults: what the image ships is the subject here
        }
        var compose = ComposeLogging();
        Assert.Equal("json", compose["Logging__Console__FormatterName"]);
        foreach (var (key, value) in compose)
        {
            settings[key] = value;
        }
        // The levels are src/Broker/appsettings.json's, as the image publishes it: BrokerProcess runs from the broker's folder.
        settings["Polling__DrivingIntervalSeconds"] = "5";
        settings["Polling__ChargingIntervalSeconds"] = "5";
        settings["Polling__ListIntervalSeconds"] = "5";
        settings["Jobs__IdleWaitSeconds"] = "1";
        await using var broker = new BrokerProcess(settings);
        simulator.RedirectUris.Add($"{broker.BaseUrl}/connect/callback");
        simulator.StartOnRealPort();
        await broker.StartAsync(Ct);

        await ConnectAliceAsync(broker, simulator);
        using var control = simulator.CreateControlClient();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await VehicleDataCallsAsync(control) < 6)   // three rounds of both cars' vehicle_data, a minute's worth in production
        {
            Assert.True(DateTime.UtcNow < deadline, $"The broker did not poll alice's cars within 60 s:\n{broker.Tail()}");
            await Task.Delay(500, Ct);
        }
        await broker.StopAsync();   // the console logger writes from a queue: a graceful stop flushes it

        var lines = broker.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => RunPrefix().Replace(l, "")).ToList();
        Assert.NotEmpty(lines);
        var entries = lines.Select(line =>
        {
            using var json = TryParse(line);
            Assert.True(json is { RootElement.ValueKind: JsonValueKind.Object }, $"Not a JSON object: {line}");
            var e = json!.RootElement;
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", e.GetProperty("Timestamp").GetString());
            return (Level: e.GetProperty("LogLevel").GetString()!, Category: e.GetProperty("Category").GetString()!, Line: line);
        }).ToList();
        Assert.Contains(entries, e => e.Category == "Microsoft.Hosting.Lifetime" && e.Line.Contains($"Content root path: {DeployTools.PathOf("src/Broker")}"));
        Assert.All(AliceVins, vin => Assert.DoesNotContain(entries, e => e.Line.Contains(vin)));
        Assert.DoesNotContain(entries, e => e.Category.StartsWith("System.Net.Http.HttpClient") || e.Category.StartsWith("Polly"));
        // Start, connect and stop write about 25 lines (Quartz, hosting, the link); quiet polls add none. Two request
        // lines per Fleet API call would add dozens.
        Assert.True(entries.Count < 50, $"{entries.Count} log lines:\n{string.Join('\n', lines)}");
        TestContext.Current.TestOutputHelper?.WriteLine($"{entries.Count} lines: " + string.Join(", ", entries
            .GroupBy(e => $"{e.Level} {e.Category}").Select(g => $"{g.Count()} × {g.Key}")));
    }

    /// <summary>The <c>Logging__*</c> settings every broker container gets (the <c>x-broker</c> block of docker-compose.yml).</summary>
    internal static Dictionary<string, string> ComposeLogging() =>
        ComposeSetting().Matches(File.ReadAllText(DeployTools.PathOf("docker-compose.yml")))
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim('"'));

    private static async Task ConnectAliceAsync(BrokerProcess broker, SimulatorHost simulator)
    {
        using var api = new HttpClient { BaseAddress = new Uri(broker.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", BrokerApplication.OperatorToken);
        (await api.PostAsJsonAsync("/api/v1/tenants", new { slug = "household", name = "The Household" }, Ct)).EnsureSuccessStatusCode();
        var link = await (await api.PostAsJsonAsync("/api/v1/tenants/household/connect-links", new { label = "logs" }, Ct))
            .Content.ReadFromJsonAsync<LinkResponse>(Ct);
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() })
        {
            BaseAddress = new Uri(broker.BaseUrl),
        };
        await new TeslaUser(browser, simulator, () => broker.Output.Split('\n')).ConnectAsync(new Uri(link!.Url).Segments[^1], "alice@example.com", "alice-demo");
    }

    private static async Task<long> VehicleDataCallsAsync(HttpClient control)
    {
        var ledger = await control.GetFromJsonAsync<JsonElement>("/_sim/calls", Ct);
        return ledger.GetProperty("calls").EnumerateArray().Where(c => c.GetProperty("category").GetString() == "data").Sum(c => c.GetProperty("count").GetInt64());
    }

    private static JsonDocument? TryParse(string line)
    {
        try
        {
            return JsonDocument.Parse(line);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Loopback() => $"http://127.0.0.1:{PostgresServer.FreePort()}";

    private sealed record LinkResponse(string Url);

    [GeneratedRegex(@"^    (Logging__\S+): (.+)$", RegexOptions.Multiline)]
    private static partial Regex ComposeSetting();

    [GeneratedRegex(@"^\[\d+\] ")]
    private static partial Regex RunPrefix();
}
