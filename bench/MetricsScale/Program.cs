using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using Bench;
using Broker.Tenants;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MetricsScale;

/// <summary>
/// dotnet run -c Release --project bench/MetricsScale -- --vehicles 10000 [--requests 20] [--scrapers 50] [--seconds 20] [--cache-seconds 0]
/// One size per process, so the peak working set belongs to that size alone. The broker listens with
/// Kestrel on a loopback port; nginx serves the same bytes as a static file on another, side by side.
/// </summary>
internal static class MetricsScaleProgram
{
    private const string OperatorToken = "bench-operator-token-0123456789abcdef";

    public static async Task<int> Main(string[] args)
    {
        var vehicles = Arg(args, "--vehicles", 1000);
        var requests = Arg(args, "--requests", 20);
        var scrapers = Arg(args, "--scrapers", 50);
        var seconds = Arg(args, "--seconds", 20);
        var cacheSeconds = Arg(args, "--cache-seconds", 0);
        Hosting.PointAtSources();
        await using var postgres = await LocalPostgres.StartAsync();
        var cs = postgres.ConnectionString($"broker_scale_{vehicles}");
        await Hosting.MigrateAsync(cs);
        var seeding = Stopwatch.StartNew();
        await Synthetic.SeedAsync(cs, vehicles, DateTimeOffset.UtcNow);
        Console.Error.WriteLine($"seeded {vehicles} vehicles in {seeding.Elapsed.TotalSeconds:F1} s");

        await using var broker = new ScaleBroker(cs, cacheSeconds);
        var port = LocalPostgres.FreePort();
        broker.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        broker.StartServer();
        var tenantKeys = await TenantKeysAsync(broker, cs, scrapers);
        var scraper = new Scraper($"http://127.0.0.1:{port}");

        // What the process holds before the first scrape (seeding's garbage collected), then the peak from here on.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        ResetPeakResidentSet();
        var rssBefore = ProcStatus("VmRSS");

        var plain = await SequentialAsync(requests, () => scraper.GetAsync("/metrics", OperatorToken), measureAllocations: true);
        var gzip = await SequentialAsync(requests, () => scraper.GetAsync("/metrics", OperatorToken, gzip: true), measureAllocations: false);
        var tenants = await ConcurrentAsync(scrapers, TimeSpan.FromSeconds(seconds), i => scraper.GetAsync("/metrics", tenantKeys[i % tenantKeys.Count]));
        var oneTenant = await ConcurrentAsync(scrapers, TimeSpan.FromSeconds(seconds), _ => scraper.GetAsync("/metrics", tenantKeys[0]));
        var peakRss = ProcStatus("VmHWM");

        // The same bytes (one operator exposition, and its gzip) as static files behind nginx.
        var root = Directory.CreateTempSubdirectory("metrics-scale-static-").FullName;
        var body = await new HttpClient().SendAsync(new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/metrics") { Headers = { Authorization = new("Bearer", OperatorToken) } });
        var text = await body.Content.ReadAsByteArrayAsync();
        await File.WriteAllBytesAsync(Path.Combine(root, "metrics"), text);
        await using (var gz = new GZipStream(File.Create(Path.Combine(root, "metrics.gz")), CompressionLevel.Fastest))
        {
            await gz.WriteAsync(text);
        }
        var nginxPort = LocalPostgres.FreePort();
        List<Sample> nginxPlain, nginxGzip;
        await using (await StaticNginx.StartAsync(root, nginxPort))
        {
            var nginx = new Scraper($"http://127.0.0.1:{nginxPort}");
            nginxPlain = await SequentialAsync(requests, () => nginx.GetAsync("/metrics"), measureAllocations: false);
            nginxGzip = await SequentialAsync(requests, () => nginx.GetAsync("/metrics.gz"), measureAllocations: false);
        }
        Directory.Delete(root, recursive: true);

        Report(vehicles, cacheSeconds, plain, gzip, nginxPlain, nginxGzip, tenants, oneTenant, scrapers, seconds, rssBefore, peakRss);
        return 0;
    }

    /// <summary>One scrape; Allocated and CpuMs (this process: broker and client, not Postgres) when measured.</summary>
    private sealed record Sample(Scraper.Result Result, long Allocated, double CpuMs);

    /// <summary>3 warm-up requests (JIT, EF's query cache, pools), then <paramref name="count"/> one after another.</summary>
    private static async Task<List<Sample>> SequentialAsync(int count, Func<Task<Scraper.Result>> scrape, bool measureAllocations)
    {
        var samples = new List<Sample>();
        for (var i = 0; i < count + 3; i++)
        {
            var allocated = measureAllocations ? GC.GetTotalAllocatedBytes(precise: true) : 0;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var result = await scrape();
            if (i >= 3)
            {
                samples.Add(new Sample(result, measureAllocations ? GC.GetTotalAllocatedBytes(precise: true) - allocated : 0,
                    (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds));
            }
        }
        return samples;
    }

    /// <summary><paramref name="scrapers"/> closed loops (each its own credential or the same one) for <paramref name="duration"/>.</summary>
    private static async Task<List<double>> ConcurrentAsync(int scrapers, TimeSpan duration, Func<int, Task<Scraper.Result>> scrape)
    {
        await Task.WhenAll(Enumerable.Range(0, scrapers).Select(scrape)); // warm-up: one each
        var deadline = Stopwatch.StartNew();
        var latencies = await Task.WhenAll(Enumerable.Range(0, scrapers).Select(async i =>
        {
            var mine = new List<double>();
            while (deadline.Elapsed < duration)
            {
                mine.Add((await scrape(i)).Ms);
            }
            return mine;
        }));
        return latencies.SelectMany(l => l).ToList();
    }

    private static async Task<List<string>> TenantKeysAsync(ScaleBroker broker, string cs, int count)
    {
        var options = new DbContextOptionsBuilder<Broker.Data.BrokerDbContext>().UseNpgsql(cs).UseSnakeCaseNamingConvention().Options;
        await using var db = new Broker.Data.BrokerDbContext(options);
        var ids = await db.Tenants.OrderBy(t => t.Slug).Select(t => t.Id).Take(count).ToListAsync();
        await using var scope = broker.Services.CreateAsyncScope();
        var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
        var keys = new List<string>();
        foreach (var id in ids)
        {
            keys.Add(await provisioning.AddApiKeyAsync(id, "bench", CancellationToken.None));
        }
        return keys;
    }

    private static void Report(int vehicles, int cacheSeconds, List<Sample> plain, List<Sample> gzip, List<Sample> nginxPlain, List<Sample> nginxGzip,
        List<double> tenants, List<double> oneTenant, int scrapers, int seconds, long rssBefore, long peakRss)
    {
        static List<double> Ms(List<Sample> s) => s.Select(x => x.Result.Ms).Order().ToList();
        static string MiB(double bytes) => (bytes / 1024 / 1024).ToString("F1", CultureInfo.InvariantCulture);
        var (p, g, np, ng) = (Ms(plain), Ms(gzip), Ms(nginxPlain), Ms(nginxGzip));
        var builds = plain.Select(s => (s.Result.BuildSeconds ?? double.NaN) * 1000).Order().ToList();
        var (t, o) = (tenants.Order().ToList(), oneTenant.Order().ToList());
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"vehicles {vehicles:N0}, Metrics:CacheSeconds {cacheSeconds}, GC {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, {plain.Count} sequential scrapes each"));
        Console.WriteLine("| | body | median | p95 | p99 |");
        Console.WriteLine("|---|---|---|---|---|");
        Console.WriteLine(string.Create(inv, $"| broker, operator /metrics, text | {MiB(plain[0].Result.Bytes)} MiB | {Median(p):F0} ms | {Pct(p, 95):F0} ms | {Pct(p, 99):F0} ms |"));
        Console.WriteLine(string.Create(inv, $"| broker, operator /metrics, gzip | {MiB(gzip[0].Result.Bytes)} MiB | {Median(g):F0} ms | {Pct(g, 95):F0} ms | {Pct(g, 99):F0} ms |"));
        Console.WriteLine(string.Create(inv, $"| nginx, same text as a static file | {MiB(nginxPlain[0].Result.Bytes)} MiB | {Median(np):F1} ms | {Pct(np, 95):F1} ms | {Pct(np, 99):F1} ms |"));
        Console.WriteLine(string.Create(inv, $"| nginx, same gzip as a static file | {MiB(nginxGzip[0].Result.Bytes)} MiB | {Median(ng):F1} ms | {Pct(ng, 95):F1} ms | {Pct(ng, 99):F1} ms |"));
        Console.WriteLine(string.Create(inv, $"| **ratio broker / nginx** (median; p95) | | text {Median(p) / Median(np):F1}×; {Pct(p, 95) / Pct(np, 95):F1}× | gzip {Median(g) / Median(ng):F1}×; {Pct(g, 95) / Pct(ng, 95):F1}× | |"));
        Console.WriteLine(string.Create(inv, $"| of which building (median, tesla_broker_scrape_duration_seconds) | | {Median(builds):F0} ms | | |"));
        Console.WriteLine(string.Create(inv, $"| allocated per text scrape (mean) | {MiB(plain.Average(s => (double)s.Allocated))} MiB | | | |"));
        Console.WriteLine(string.Create(inv, $"| CPU per scrape, this process (median; broker + client, not Postgres): text / gzip | | {Median(plain.Select(s => s.CpuMs).Order().ToList()):F0} / {Median(gzip.Select(s => s.CpuMs).Order().ToList()):F0} ms | | |"));
        Console.WriteLine(string.Create(inv, $"| {scrapers} scrapers, each its own tenant key, {seconds} s ({t.Count} scrapes, {t.Count / (double)seconds:F0}/s) | | {Median(t):F0} ms | {Pct(t, 95):F0} ms | {Pct(t, 99):F0} ms |"));
        Console.WriteLine(string.Create(inv, $"| {scrapers} scrapers, one tenant key, {seconds} s ({o.Count} scrapes, {o.Count / (double)seconds:F0}/s) | | {Median(o):F0} ms | {Pct(o, 95):F0} ms | {Pct(o, 99):F0} ms |"));
        Console.WriteLine(string.Create(inv, $"| resident set: before scrapes / peak during them | {MiB(rssBefore)} / {MiB(peakRss)} MiB | | | |"));
    }

    private static double Median(List<double> sorted) => sorted[sorted.Count / 2];
    private static double Pct(List<double> sorted, int percent) => sorted[Math.Max(0, (int)Math.Ceiling(percent / 100.0 * sorted.Count) - 1)];

    /// <summary>Bytes from /proc/self/status (VmRSS, VmHWM).</summary>
    private static long ProcStatus(string field) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

    /// <summary>Linux: writing 5 to clear_refs resets VmHWM to the current resident set.</summary>
    private static void ResetPeakResidentSet() => File.WriteAllText("/proc/self/clear_refs", "5");

    private static int Arg(string[] args, string name, int fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;

    /// <summary>The broker as deployed, minus Tesla (nothing is polled): /metrics reads what is in Postgres.</summary>
    private sealed class ScaleBroker(string connectionString, int cacheSeconds) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Production");
            foreach (var (k, v) in new Dictionary<string, string>
            {
                ["ConnectionStrings:Broker"] = connectionString, ["Database:MigrateOnStart"] = "false", ["Jobs:Enabled"] = "false",
                ["Operator:Token"] = OperatorToken, ["Vault:Keys:0:Id"] = "bench-1", ["Vault:Keys:0:Key"] = Convert.ToBase64String(new byte[32].Select((_, i) => (byte)(i + 1)).ToArray()),
                ["Tesla:ClientId"] = "bench", ["Tesla:ClientSecret"] = "bench", ["Tesla:AuthBaseUrl"] = "https://auth.tesla.com",
                ["Metrics:CacheSeconds"] = cacheSeconds.ToString(CultureInfo.InvariantCulture),
                ["Logging:LogLevel:Default"] = "Warning", ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
            })
            {
                builder.UseSetting(k, v);
            }
            builder.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        }
    }
}
