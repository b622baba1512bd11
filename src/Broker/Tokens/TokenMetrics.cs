using Prometheus;

namespace Broker.Tokens;

/// <summary>This replica's token refreshes by outcome (ok, failed, needs_reconnect).</summary>
public static class TokenMetrics
{
    public static readonly Counter Refreshes = Prometheus.Metrics.CreateCounter(
        "tesla_broker_token_refreshes_total", "Tesla token refreshes attempted by this replica, by result.", "result");
}
