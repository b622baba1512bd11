using Prometheus;

namespace Broker.Polling;

/// <summary>This replica's polling health. Tenant data series are built from the database per scrape (Metrics/).</summary>
public static class PollingMetrics
{
    public static readonly Counter Polls = Prometheus.Metrics.CreateCounter(
        "tesla_broker_polls_total", "Calls made to poll Tesla by this replica, by kind and result.", "kind", "result");

    public static readonly Histogram Lag = Prometheus.Metrics.CreateHistogram(
        "tesla_broker_poll_lag_seconds", "How late account polls started compared to when they were due.",
        new HistogramConfiguration { Buckets = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 300] });

    public static readonly Histogram Duration = Prometheus.Metrics.CreateHistogram(
        "tesla_broker_poll_duration_seconds", "Wall time of one account poll on this replica: Fleet API calls and the database write.",
        new HistogramConfiguration { Buckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30] });

    public static readonly Gauge LastSuccess = Prometheus.Metrics.CreateGauge(
        "tesla_broker_poll_last_success_timestamp_seconds", "When this replica last finished an account poll.");
}
