using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Broker.Data;
using Microsoft.EntityFrameworkCore;
using MQTTnet;
using MQTTnet.Protocol;

namespace TelemetryIngest;

/// <summary>
/// Signal-to-reader latency. Every second each probe car (a tenant of its own) streams a new Odometer value, 10,000 + n miles for
/// the n-th round, stamped with the moment it was handed to MQTT. Two readers look for it: the probe tenant's <c>/metrics</c>
/// (its API key, every <c>scrapeMs</c>) and Postgres (the car's reading row, every 100 ms), so a reader of the report sees
/// ingest apart from /metrics' cache. A value is seen when a reader shows it or a later one (a superseded value was there by
/// then), at the moment the reader's answer arrived: an upper bound, coarse by the reader's interval.
/// </summary>
public sealed class LatencyProbe(IMqttClient client, StreamingSeed.Fleet fleet, string brokerUrl, string connectionString, int scrapeMs) : IAsyncDisposable
{
    private const double MetersPerMile = 1609.344;
    private const int FirstMiles = 10_000;

    private sealed class Sample(long publishedAt)
    {
        public long PublishedAt { get; } = publishedAt;
        public long? MetricsAt, DatabaseAt;
    }

    private readonly Dictionary<string, List<Sample>> _sent = fleet.ProbeVins.ToDictionary(v => v, _ => new List<Sample>());
    private readonly CancellationTokenSource _stop = new();
    private Task[] _running = [];

    public long Published { get; private set; }

    public void Start() => _running = [Task.Run(PublishAsync), Task.Run(ScrapeAsync), Task.Run(QueryAsync)];

    /// <summary>True once Postgres shows a probe value: the broker is subscribed and storing.</summary>
    public bool Flowing { get { lock (_sent) return _sent.Values.Any(s => s.Any(x => x.DatabaseAt is not null)); } }

    public record Latency(int Count, int Unseen, double P50, double P95, double P99, double Max);

    /// <summary>Milliseconds from publish to first sight, for probes published between the two timestamps.</summary>
    public (Latency Metrics, Latency Database) Between(long from, long to)
    {
        List<Sample> window;
        lock (_sent)
        {
            window = _sent.Values.SelectMany(s => s).Where(s => s.PublishedAt >= from && s.PublishedAt < to).ToList();
        }
        return (Stats(window, s => s.MetricsAt), Stats(window, s => s.DatabaseAt));
    }

    private static Latency Stats(List<Sample> samples, Func<Sample, long?> seen)
    {
        var ms = samples.Where(s => seen(s) is not null).Select(s => Stopwatch.GetElapsedTime(s.PublishedAt, seen(s)!.Value).TotalMilliseconds).Order().ToList();
        double P(int pct) => ms.Count == 0 ? double.NaN : ms[Math.Max(0, (int)Math.Ceiling(pct / 100.0 * ms.Count) - 1)];
        return new Latency(samples.Count, samples.Count - ms.Count, P(50), P(95), P(99), ms.Count == 0 ? double.NaN : ms[^1]);
    }

    private async Task PublishAsync()
    {
        using var tick = new PeriodicTimer(TimeSpan.FromSeconds(1));
        for (var round = 0; !_stop.IsCancellationRequested; round++)
        {
            try
            {
                await tick.WaitForNextTickAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            foreach (var vin in fleet.ProbeVins)
            {
                lock (_sent)
                {
                    _sent[vin].Add(new Sample(Stopwatch.GetTimestamp()));
                }
                var value = (FirstMiles + round).ToString(CultureInfo.InvariantCulture);
                await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"telemetry/{vin}/v/Odometer")
                    .WithPayload(Encoding.UTF8.GetBytes($$"""{"value":{{value}}}""")).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
                Published++;
            }
        }
    }

    private async Task ScrapeAsync()
    {
        using var http = new HttpClient { BaseAddress = new Uri(brokerUrl), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", fleet.ProbeKey);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var text = await http.GetStringAsync("/metrics", _stop.Token);
                var at = Stopwatch.GetTimestamp();
                foreach (var line in text.Split('\n').Where(l => l.StartsWith("tesla_vehicle_odometer_meters{", StringComparison.Ordinal)))
                {
                    var vin = fleet.ProbeVins.FirstOrDefault(v => line.Contains($"vin=\"{v}\"", StringComparison.Ordinal));
                    if (vin is not null)
                    {
                        Mark(vin, double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture) / MetersPerMile, at, metrics: true);
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !_stop.IsCancellationRequested)
            {
                Console.Error.WriteLine($"probe scrape failed: {ex.Message}");
            }
            await Task.Delay(scrapeMs, _stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task QueryAsync()
    {
        var options = new DbContextOptionsBuilder<BrokerDbContext>().UseNpgsql(connectionString).UseSnakeCaseNamingConvention().Options;
        await using var db = new BrokerDbContext(options);
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var rows = await (from v in db.Vehicles.AsNoTracking()
                                  join r in db.VehicleReadings.AsNoTracking() on v.Id equals r.VehicleId
                                  where v.TenantId == fleet.ProbeTenant && r.OdometerMiles != null
                                  select new { v.Vin, r.OdometerMiles }).ToListAsync(_stop.Token);
                var at = Stopwatch.GetTimestamp();
                foreach (var row in rows)
                {
                    Mark(row.Vin, row.OdometerMiles!.Value, at, metrics: false);
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
            await Task.Delay(100, _stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>The reader shows round n for this car: it and every earlier round not yet seen were there by now.</summary>
    private void Mark(string vin, double miles, long at, bool metrics)
    {
        var round = (int)Math.Round(miles) - FirstMiles;
        lock (_sent)
        {
            var sent = _sent[vin];
            for (var i = Math.Min(round, sent.Count - 1); i >= 0 && (metrics ? sent[i].MetricsAt : sent[i].DatabaseAt) is null; i--)
            {
                if (metrics)
                {
                    sent[i].MetricsAt = at;
                }
                else
                {
                    sent[i].DatabaseAt = at;
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_running).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
