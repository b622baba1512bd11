using System.Diagnostics;
using System.Globalization;
using Bench;
using Broker.Data;
using Broker.Tenants;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ConnectScale;

/// <summary>
/// dotnet run -c Release --project bench/ConnectScale -- [--people 100 --rounds 1 --sequential 10]
/// Debian's nginx (TLS, the repo's broker.conf) → one broker (Quartz on) → the simulator, all on loopback.
/// One person connects first (warm-up, not counted); then each round, --people people start the whole
/// flow at the same moment, each with their own cookie jar and their own Tesla account. Then --sequential
/// more people connect one after another: the same flow without the crowd, to tell queueing from cost.
/// </summary>
internal static class ConnectScaleProgram
{
    public static async Task<int> Main(string[] args)
    {
        var people = Arg(args, "--people", 100);
        var rounds = Arg(args, "--rounds", 1);
        var sequential = Arg(args, "--sequential", 10);
        Hosting.PointAtSources();
        var (simPort, brokerPort, httpsPort) = (LocalPostgres.FreePort(), LocalPostgres.FreePort(), LocalPostgres.FreePort());
        var publicUrl = $"https://localhost:{httpsPort}";
        var accounts = 1 + people * rounds + sequential;
        var seedFile = Path.Combine(Path.GetTempPath(), $"broker-connectscale-seed-{Environment.ProcessId}.json");
        ScaleSeed.Write(seedFile, accounts, accounts * 2, SimulatorApp.ClientId, SimulatorApp.Secret, [$"{publicUrl}/connect/callback"]);

        await using var postgres = await LocalPostgres.StartAsync();
        var cs = postgres.ConnectionString("broker_connectscale");
        await Hosting.MigrateAsync(cs);
        await using var simulator = new SimulatorApp(seedFile, simPort);
        simulator.Start();
        await using var broker = new BrokerApp(cs, simulator, brokerPort);
        broker.Start();
        await using var nginx = new Nginx();
        await nginx.StartAsync(brokerPort, httpsPort);

        var links = new List<string>();
        await using (var scope = broker.Services.CreateAsyncScope())
        {
            var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
            var tenant = await provisioning.EnsureTenantAsync("connect-scale", "Connect at scale", default);
            for (var a = 0; a < accounts; a++)
            {
                links.Add((await provisioning.AddConnectLinkAsync(tenant.Id, ScaleSeed.Email(a), default)).Token);
            }
        }
        using var tesla = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false }) { Timeout = TimeSpan.FromMinutes(3) };
        using (var warmup = nginx.Browser(publicUrl))
        {
            await ConnectFlow.RunAsync(warmup, tesla, links[0], ScaleSeed.Email(0), ScaleSeed.Password(0), default);
        }

        var timings = new List<ConnectFlow.Timing>();
        var failures = new List<string>();
        var wall = Stopwatch.StartNew();
        for (var round = 0; round < rounds; round++)
        {
            var go = new TaskCompletionSource();
            var flows = Enumerable.Range(1 + round * people, people).Select(async a =>
            {
                using var browser = nginx.Browser(publicUrl);
                await go.Task;
                try
                {
                    return await ConnectFlow.RunAsync(browser, tesla, links[a], ScaleSeed.Email(a), ScaleSeed.Password(a), default);
                }
                catch (Exception ex)
                {
                    lock (failures)
                    {
                        failures.Add($"{ScaleSeed.Email(a)}: {ex.Message}");
                    }
                    return null;
                }
            }).ToList();
            go.SetResult();
            timings.AddRange((await Task.WhenAll(flows)).OfType<ConnectFlow.Timing>());
        }
        var wallSeconds = wall.Elapsed.TotalSeconds;
        var alone = new List<ConnectFlow.Timing>();
        for (var a = 1 + people * rounds; a < accounts; a++)
        {
            using var browser = nginx.Browser(publicUrl);
            alone.Add(await ConnectFlow.RunAsync(browser, tesla, links[a], ScaleSeed.Email(a), ScaleSeed.Password(a), default));
        }

        await using var check = broker.Services.CreateAsyncScope();
        var db = check.ServiceProvider.GetRequiredService<BrokerDbContext>();
        var subjects = await db.TeslaAccounts.Select(a => a.Subject).ToListAsync();
        var vins = await db.Vehicles.Select(v => v.Vin).ToListAsync();
        var callback = timings.Select(t => t.Callback.TotalMilliseconds).Order().ToList();
        var total = timings.Select(t => t.Total.TotalMilliseconds).Order().ToList();
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            ConnectScale: {rounds} round(s) of {people} people starting at once through nginx (TLS) → broker → simulator; {wallSeconds:F1} s wall; load average at the end {load}
            | callback request | p50 {ConnectFlow.Percentile(callback, 0.5):F0} ms | p99 {ConnectFlow.Percentile(callback, 0.99):F0} ms | max {(callback.Count > 0 ? callback[^1] : double.NaN):F0} ms |
            | whole flow (connect page → result page) | p50 {ConnectFlow.Percentile(total, 0.5):F0} ms | p99 {ConnectFlow.Percentile(total, 0.99):F0} ms | max {(total.Count > 0 ? total[^1] : double.NaN):F0} ms |
            | one at a time ({sequential} people after the crowd) | callback p50 {ConnectFlow.Percentile(alone.Select(t => t.Callback.TotalMilliseconds).Order().ToList(), 0.5):F0} ms, max {alone.Select(t => t.Callback.TotalMilliseconds).DefaultIfEmpty(double.NaN).Max():F0} ms | whole flow p50 {ConnectFlow.Percentile(alone.Select(t => t.Total.TotalMilliseconds).Order().ToList(), 0.5):F0} ms, max {alone.Select(t => t.Total.TotalMilliseconds).DefaultIfEmpty(double.NaN).Max():F0} ms |
            | outcome | {timings.Count} of {people * rounds} connected at once, {failures.Count} failed; accounts in the database {subjects.Count} (expected {accounts}, distinct Tesla subjects {subjects.Distinct().Count()}: {subjects.Count - subjects.Distinct().Count()} duplicates); vehicles {vins.Count} (expected {accounts * 2}, {vins.Count - vins.Distinct().Count()} duplicates) |
            """));
        foreach (var f in failures.Take(10))
        {
            Console.Error.WriteLine(f);
        }
        if (failures.Count > 0 && nginx.ErrorLog is { Length: > 0 } log)
        {
            Console.Error.WriteLine(log[^Math.Min(3000, log.Length)..]);
        }
        File.Delete(seedFile);
        var clean = failures.Count == 0 && subjects.Count == accounts && subjects.Distinct().Count() == accounts && vins.Distinct().Count() == accounts * 2;
        return clean ? 0 : 1;
    }

    private static int Arg(string[] args, string name, int fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
