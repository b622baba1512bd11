using Prometheus;

namespace Broker.Tokens;

/// <summary>This replica's token refreshes by outcome (ok, failed, needs_reconnect).</summary>
public static class TokenMetrics
{
    public static readonly Counter Refreshes = Prometheus.Metrics.CreateCounter(
        "tesla_broker_token_refreshes_total", "Tesla token refreshes attempted by this replica, by result.", "result");

    /// <summary>Every result at 0 before the first refresh, so the series exist for rate() and alerts from the start.</summary>
    public static void Initialize()
    {
        foreach (var result in new[] { "ok", "failed", "needs_reconnect" })
        {
            Refreshes.WithLabels(result);
        }
    }
}
