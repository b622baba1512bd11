using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Bench;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;

namespace MetricsScale;

/// <summary>
/// dotnet run -c Release --project bench/MetricsScale -- --vehicles 10000 [--requests 20]
/// One size per process, so the peak working set belongs to that size alone.
/// </summary>
internal static class MetricsScaleProgram
{
    private const string OperatorToken = "bench-operator-token-0123456789abcdef";

    public static async Task<int> Main(string[] args)
    {
        var vehicles = Arg(args, "--vehicles", 1000);
        var requests = Arg(args, "--requests", 20);
        Hosting.PointAtSources();
        await using var postgres = await LocalPostgres.StartAsync();
        var cs = postgres.ConnectionString($"broker_scale_{vehicles}");
        await Hosting.MigrateAsync(cs);
        var seeding = Stopwatch.StartNew();
        await Synthetic.SeedAsync(cs, vehicles, DateTimeOffset.UtcNow);
        Console.Error.WriteLine($"seeded {vehicles} vehicles in {seeding.Elapsed.TotalSeconds:F1} s");

        await using var broker = new ScaleBroker(cs);
        var client = broker.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken);
        client.Timeout = TimeSpan.FromMinutes(5);
        var workingSetBefore = Process.GetCurrentProcess().WorkingSet64;

        var samples = new List<(double Ms, long Bytes, long Allocated, double BuildSeconds)>();
        for (var i = 0; i < requests + 3; i++)
        {
            var allocated = GC.GetTotalAllocatedBytes(precise: true);
            var started = Stopwatch.GetTimestamp();
            using var response = await client.GetAsync("/metrics", HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadAsStringAsync();
            var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var build = double.Parse(Regex.Match(body, @"^tesla_broker_scrape_duration_seconds (\S+)$", RegexOptions.Multiline).Groups[1].Value, CultureInfo.InvariantCulture);
            if (i >= 3) // the first requests warm up JIT, EF's query cache and the connection pool
            {
                samples.Add((ms, System.Text.Encoding.UTF8.GetByteCount(body), GC.GetTotalAllocatedBytes(precise: true) - allocated, build));
            }
        }
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var ordered = samples.Select(s => s.Ms).Order().ToList();
        var builds = samples.Select(s => s.BuildSeconds * 1000).Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {vehicles:N0} | {samples[0].Bytes / 1024.0 / 1024.0:F1} MiB | {Median(ordered):F0} ms | {P95(ordered):F0} ms | {Median(builds):F0} ms | " +
            $"{samples.Average(s => s.Allocated) / 1024.0 / 1024.0:F0} MiB | {process.PeakWorkingSet64 / 1024.0 / 1024.0:F0} MiB (before scrapes: {workingSetBefore / 1024.0 / 1024.0:F0} MiB) | {requests} |"));
        return 0;
    }

    private static double Median(List<double> sorted) => sorted[sorted.Count / 2];
    private static double P95(List<double> sorted) => sorted[(int)Math.Ceiling(0.95 * sorted.Count) - 1];

    private static int Arg(string[] args, string name, int fallback) =>
        Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;

    /// <summary>The broker as deployed, minus Tesla (nothing is polled): /metrics reads what is in Postgres.</summary>
    private sealed class ScaleBroker(string connectionString) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Production");
            foreach (var (k, v) in new Dictionary<string, string>
            {
                ["ConnectionStrings:Broker"] = connectionString, ["Database:MigrateOnStart"] = "false", ["Jobs:Enabled"] = "false",
                ["Operator:Token"] = OperatorToken, ["Vault:Keys:0:Id"] = "bench-1", ["Vault:Keys:0:Key"] = Convert.ToBase64String(new byte[32].Select((_, i) => (byte)(i + 1)).ToArray()),
                ["Tesla:ClientId"] = "bench", ["Tesla:ClientSecret"] = "bench", ["Tesla:AuthBaseUrl"] = "https://auth.tesla.com",
                ["Logging:LogLevel:Default"] = "Warning", ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
            })
            {
                builder.UseSetting(k, v);
            }
            builder.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        }
    }
}
