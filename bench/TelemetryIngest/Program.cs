using System.Diagnostics;
using System.Globalization;
using Bench;
using MQTTnet;
using MQTTnet.Protocol;

namespace TelemetryIngest;

/// <summary>
/// dotnet run -c Release --project bench/TelemetryIngest -- --vehicles 10000 [--seconds 300 --warmup 60 --cache-seconds 5
///   --phases [idle,]steady,peak --active-percent 30 --signals-per-day 1800 --probes 5 --scrape-ms 150]
/// N streaming cars (seeded as configured and synced) publish through Debian's mosquitto into the built Broker.dll in its own
/// process (Quartz off: nothing is polled, no Tesla). Each phase warms up, then measures for --seconds; see ../README.md.
/// </summary>
internal static class TelemetryIngestProgram
{
    private const string OperatorToken = "bench-operator-token-0123456789abcdef";

    public static async Task<int> Main(string[] args)
    {
        var vehicles = Arg(args, "--vehicles", 10_000);
        var seconds = Arg(args, "--seconds", 300);
        var warmup = Arg(args, "--warmup", 60);
        var cacheSeconds = Arg(args, "--cache-seconds", 5);
        var activePercent = Arg(args, "--active-percent", 30);
        var signalsPerDay = Arg(args, "--signals-per-day", 1800);
        var phases = (Array.IndexOf(args, "--phases") is var i and >= 0 ? args[i + 1] : "steady,peak").Split(',');

        await using var postgres = await LocalPostgres.StartAsync();
        var cs = postgres.ConnectionString($"broker_ingest_{vehicles}");
        await Hosting.MigrateAsync(cs);
        var seeding = Stopwatch.StartNew();
        var fleet = await StreamingSeed.SeedAsync(cs, vehicles, Arg(args, "--probes", 5), DateTimeOffset.UtcNow);
        Console.Error.WriteLine($"seeded {fleet.Vins.Count} streaming vehicles and {fleet.ProbeVins.Count} probes in {seeding.Elapsed.TotalSeconds:F1} s");

        await using var mqtt = await Bench.Mosquitto.StartAsync();
        var environment = BrokerDll.NoTeslaEnvironment(cs, OperatorToken, cacheSeconds);
        foreach (var (key, value) in mqtt.BrokerSettings("broker-ingest"))
        {
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value!;
        }
        await using var broker = await BrokerDll.StartAsync(environment);
        var sys = await WatchSysAsync(mqtt);

        var publisher = await FleetLoad.ConnectAsync(mqtt, "fleet-telemetry-bench");
        await using var probe = new LatencyProbe(await FleetLoad.ConnectAsync(mqtt, "fleet-telemetry-probe"), fleet, broker.BaseUrl, cs, Arg(args, "--scrape-ms", 150));
        probe.Start();
        for (var waited = Stopwatch.StartNew(); !probe.Flowing; await Task.Delay(200))
        {
            if (waited.Elapsed > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException("no probe value reached Postgres in 2 minutes:\n" + broker.Output + mqtt.Log);
            }
        }
        var cars = new FleetLoad(publisher, fleet.Vins, signalsPerDay, 0);
        await cars.ConnectCarsAsync();

        var results = new List<Report.Phase>();
        long publishedBefore = 0;
        foreach (var phase in phases)
        {
            // idle: the probes alone (what the broker spends on them and their scrapes); steady: every car day-average; peak.
            var load = new FleetLoad(publisher, phase == "idle" ? [] : fleet.Vins, signalsPerDay, phase == "peak" ? activePercent : 0);
            long Published() => publishedBefore + load.Published + probe.Published;
            load.Start();
            Console.Error.WriteLine($"{phase}: {load.TargetPerSecond:F0} signals/s asked for; warming up {warmup} s");
            await Task.Delay(TimeSpan.FromSeconds(warmup));
            broker.ResetPeakResidentSet();
            var start = await Snapshot.TakeAsync(cs, Published(), broker.CpuTime, mqtt.Pid);
            await Task.Delay(TimeSpan.FromSeconds(seconds));
            var end = await Snapshot.TakeAsync(cs, Published(), broker.CpuTime, mqtt.Pid);
            var (rss, peak) = (broker.Status("VmRSS"), broker.Status("VmHWM"));
            Console.Error.WriteLine($"{phase}: measured; published {end.Published - start.Published}, stored {end.Stored - start.Stored}; stopping the load");
            await load.DisposeAsync();
            var unstored = await DrainAsync(cs, Published(), broker, mqtt.Pid);
            publishedBefore += load.Published;
            Console.Error.WriteLine($"{phase}: {unstored} published but not stored after the drain");
            // After the drain and one cache lifetime, so the window's last probes had time to show up in /metrics too.
            await Task.Delay(TimeSpan.FromSeconds(cacheSeconds + 2));
            results.Add(new Report.Phase(phase, load.TargetPerSecond + fleet.ProbeVins.Count, start, end, probe.Between(start.At, end.At), rss, peak, unstored, load.Failed));
        }

        var exposition = await new HttpClient { DefaultRequestHeaders = { Authorization = new("Bearer", OperatorToken) } }.GetStringAsync($"{broker.BaseUrl}/metrics");
        Report.Write(vehicles, fleet.ProbeVins.Count, cacheSeconds, signalsPerDay, activePercent, seconds, warmup, results, exposition, sys, mqtt.Log);
        return 0;
    }

    /// <summary>After the load stops: waits (at most 2 min) until the broker stored what was published; returns what it did not.</summary>
    private static async Task<long> DrainAsync(string cs, long published, BrokerDll broker, int mosquittoPid)
    {
        for (var waited = Stopwatch.StartNew(); ; await Task.Delay(1000))
        {
            var stored = (await Snapshot.TakeAsync(cs, published, broker.CpuTime, mosquittoPid)).Stored;
            if (stored >= published || waited.Elapsed > TimeSpan.FromMinutes(2))
            {
                return Math.Max(0, published - stored);
            }
        }
    }

    /// <summary>mosquitto's own counters (<c>$SYS/broker/…</c>, every 10 s): the latest value of each.</summary>
    private static async Task<Dictionary<string, string>> WatchSysAsync(Bench.Mosquitto mqtt)
    {
        var latest = new Dictionary<string, string>();
        var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += e =>
        {
            lock (latest)
            {
                latest[e.ApplicationMessage.Topic] = e.ApplicationMessage.ConvertPayloadToString();
            }
            return Task.CompletedTask;
        };
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", mqtt.Port).WithClientId("bench-sys")
            .WithCredentials(Bench.Mosquitto.BenchUser, mqtt.BenchPassword).WithCleanStart().Build());
        await client.SubscribeAsync("$SYS/broker/#", MqttQualityOfServiceLevel.AtMostOnce);
        return latest;
    }

    private static int Arg(string[] args, string name, int fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
