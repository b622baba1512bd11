using Prometheus;

namespace Broker.Telemetry;

/// <summary>This replica's side of streaming. Per-car telemetry state is in the database and the accounts API.</summary>
public static class TelemetryMetrics
{
    public static readonly Counter Messages = Prometheus.Metrics.CreateCounter(
        "tesla_broker_telemetry_messages_total",
        "fleet-telemetry MQTT messages handled by this replica, by result: applied, invalid (the car had no valid value), unknown_vin, "
        + "unknown_field, unexpected_type, not_allowed (location without the scope), out_of_order, malformed, too_large, poison "
        + "(could not be stored).", "result");

    public static readonly Gauge MqttConnected = Prometheus.Metrics.CreateGauge(
        "tesla_broker_telemetry_mqtt_connected", "1 while this replica is connected and subscribed to the MQTT broker.");

    public static readonly Counter Reconnects = Prometheus.Metrics.CreateCounter(
        "tesla_broker_telemetry_mqtt_reconnects_total", "Times this replica lost or could not reach the MQTT broker and tried again.");

    public static readonly Counter WriteFailures = Prometheus.Metrics.CreateCounter(
        "tesla_broker_telemetry_write_failures_total", "Batches of telemetry that could not be stored at once (retried, not acknowledged meanwhile).");
}
