using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using Bench;

namespace MetricsScale;

/// <summary>
/// dotnet run -c Release --project bench/MetricsScale -- --vehicles 10000 [--requests 20] [--scrapers 50] [--seconds 20] [--cache-seconds 0]
/// The real Broker.dll in its own process (so its CPU and resident set are its own) listens on a loopback port;
/// wrk is the crowd of scrapers; nginx serves the same bytes as a static file on another port, side by side.
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
        await using var postgres = await LocalPostgres.StartAsync();
        var cs = postgres.ConnectionString($"broker_scale_{vehicles}");
        await Hosting.MigrateAsync(cs);
        var seeding = Stopwatch.StartNew();
        await Synthetic.SeedAsync(cs, vehicles, DateTimeOffset.UtcNow);
        var tenantKeys = await Synthetic.TenantKeysAsync(cs, scrapers);
        Console.Error.WriteLine($"seeded {vehicles} vehicles in {seeding.Elapsed.TotalSeconds:F1} s");

        await using var broker = await BrokerDll.StartAsync(BrokerDll.NoTeslaEnvironment(cs, OperatorToken, cacheSeconds));
        var scraper = new Scraper(broker.BaseUrl);
        try
        {
            await scraper.GetAsync("/metrics", tenantKeys[0]);
        }
        catch (HttpRequestException)
        {
            await Task.Delay(1000); // its log of the failure
            Console.Error.WriteLine(broker.Output);
            throw;
        }
        var rssBefore = broker.Status("VmRSS");
        broker.ResetPeakResidentSet();

        var plain = await SequentialAsync(requests, () => scraper.GetAsync("/metrics", OperatorToken), broker);
        var gzip = await SequentialAsync(requests, () => scraper.GetAsync("/metrics", OperatorToken, gzip: true), broker);
        var url = $"{broker.BaseUrl}/metrics";
        var tenants = await Wrk.RunAsync(url, tenantKeys, scrapers, seconds);
        var oneTenant = await Wrk.RunAsync(url, tenantKeys.Take(1).ToList(), scrapers, seconds);
        var oneTenantGzip = await Wrk.RunAsync(url, tenantKeys.Take(1).ToList(), scrapers, seconds, gzip: true);
        var peakRss = broker.Status("VmHWM");

        // The same bytes (one operator exposition, and its gzip) as static files behind nginx.
        var root = Directory.CreateTempSubdirectory("metrics-scale-static-").FullName;
        var body = await new HttpClient().SendAsync(new HttpRequestMessage(HttpMethod.Get, url) { Headers = { Authorization = new("Bearer", OperatorToken) } });
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
            nginxPlain = await SequentialAsync(requests, () => nginx.GetAsync("/metrics"), null);
            nginxGzip = await SequentialAsync(requests, () => nginx.GetAsync("/metrics.gz"), null);
        }
        Directory.Delete(root, recursive: true);

        Report(vehicles, cacheSeconds, plain, gzip, nginxPlain, nginxGzip, [tenants, oneTenant, oneTenantGzip], rssBefore, peakRss);
        return 0;
    }

    /// <summary>One scrape, and the broker's CPU time during it (not Postgres's, not the client's) when measured.</summary>
    private sealed record Sample(Scraper.Result Result, double CpuMs);

    /// <summary>3 warm-up requests (JIT, EF's query cache, pools), then <paramref name="count"/> one after another.</summary>
    private static async Task<List<Sample>> SequentialAsync(int count, Func<Task<Scraper.Result>> scrape, BrokerDll? broker)
    {
        var samples = new List<Sample>();
        for (var i = 0; i < count + 3; i++)
        {
            var cpu = broker?.CpuTime ?? TimeSpan.Zero;
            var result = await scrape();
            if (i >= 3)
            {
                samples.Add(new Sample(result, ((broker?.CpuTime ?? TimeSpan.Zero) - cpu).TotalMilliseconds));
            }
        }
        return samples;
    }

    private static void Report(int vehicles, int cacheSeconds, List<Sample> plain, List<Sample> gzip, List<Sample> nginxPlain, List<Sample> nginxGzip,
        Wrk.Result[] loads, long rssBefore, long peakRss)
    {
        static List<double> Ms(List<Sample> s) => s.Select(x => x.Result.Ms).Order().ToList();
        static string MiB(double bytes) => (bytes / 1024 / 1024).ToString("F1", CultureInfo.InvariantCulture);
        var (p, g, np, ng) = (Ms(plain), Ms(gzip), Ms(nginxPlain), Ms(nginxGzip));
        var builds = plain.Select(s => (s.Result.BuildSeconds ?? double.NaN) * 1000).Order().ToList();
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"vehicles {vehicles:N0}, Metrics:CacheSeconds {cacheSeconds}, Broker.dll in its own process (server GC), {plain.Count} sequential scrapes each"));
        Console.WriteLine("| | body | median | p95 | p99 |");
        Console.WriteLine("|---|---|---|---|---|");
        Console.WriteLine(string.Create(inv, $"| broker, operator /metrics, text | {MiB(plain[0].Result.Bytes)} MiB | {Median(p):F0} ms | {Pct(p, 95):F0} ms | {Pct(p, 99):F0} ms |"));
        Console.WriteLine(string.Create(inv, $"| broker, operator /metrics, gzip | {MiB(gzip[0].Result.Bytes)} MiB | {Median(g):F0} ms | {Pct(g, 95):F0} ms | {Pct(g, 99):F0} ms |"));
        Console.WriteLine(string.Create(inv, $"| nginx, same text as a static file | {MiB(nginxPlain[0].Result.Bytes)} MiB | {Median(np):F1} ms | {Pct(np, 95):F1} ms | {Pct(np, 99):F1} ms |"));
        Console.WriteLine(string.Create(inv, $"| nginx, same gzip as a static file | {MiB(nginxGzip[0].Result.Bytes)} MiB | {Median(ng):F1} ms | {Pct(ng, 95):F1} ms | {Pct(ng, 99):F1} ms |"));
        Console.WriteLine(string.Create(inv, $"| **ratio broker / nginx** (median; p95) | | text {Median(p) / Median(np):F1}×; {Pct(p, 95) / Pct(np, 95):F1}× | gzip {Median(g) / Median(ng):F1}×; {Pct(g, 95) / Pct(ng, 95):F1}× | |"));
        Console.WriteLine(string.Create(inv, $"| of which building (median, tesla_broker_scrape_duration_seconds) | | {Median(builds):F0} ms | | |"));
        Console.WriteLine(string.Create(inv, $"| broker CPU per scrape (median; not Postgres, not the client): text / gzip | | {Median(plain.Select(s => s.CpuMs).Order().ToList()):F0} / {Median(gzip.Select(s => s.CpuMs).Order().ToList()):F0} ms | | |"));
        Console.WriteLine("| wrk, closed loops (p50 / p90 / p99) | scrapes/s | p50 | p90 | p99 |");
        string[] names = ["each scrape the next of the tenant keys, text", "one tenant key, text", "one tenant key, gzip"];
        foreach (var (w, name) in loads.Zip(names))
        {
            Console.WriteLine(string.Create(inv, $"| {w.Connections} connections, {name} ({w.Requests:N0} scrapes in {w.Seconds} s, {w.Errors} errors) | {w.RequestsPerSecond:F0} | {w.P50:F1} ms | {w.P90:F1} ms | **{w.P99:F1} ms** |"));
        }
        Console.WriteLine(string.Create(inv, $"| broker resident set: after start and one scrape / peak during the scrapes | {MiB(rssBefore)} / {MiB(peakRss)} MiB | | | |"));
    }

    private static double Median(List<double> sorted) => sorted[sorted.Count / 2];
    private static double Pct(List<double> sorted, int percent) => sorted[Math.Max(0, (int)Math.Ceiling(percent / 100.0 * sorted.Count) - 1)];

    private static int Arg(string[] args, string name, int fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
