using System.ComponentModel.DataAnnotations;

namespace Broker.Telemetry;

/// <summary>
/// Fleet Telemetry: cars stream to Tesla's open-source <c>fleet-telemetry</c> server (the <see cref="Server"/> they are told
/// about), which publishes every field to an MQTT broker the broker subscribes to (<see cref="Mqtt"/>). Streaming is on when
/// both are configured; without them every car is polled as before (docs/telemetry.md).
/// </summary>
public sealed class TelemetryOptions : IValidatableObject
{
    public const string SectionName = "Telemetry";

    public MqttOptions Mqtt { get; set; } = new();
    public ServerOptions Server { get; set; } = new();

    /// <summary>Each car's config expires this many days after it is written (Tesla's examples use about 30)...</summary>
    [Range(2, 365)] public int ConfigDays { get; set; } = 30;
    /// <summary>...and is written again when fewer than this many days are left.</summary>
    [Range(1, 30)] public int RenewDaysBefore { get; set; } = 7;
    /// <summary>How often a config Tesla has not yet delivered to the car (<c>synced=false</c>) is checked again.</summary>
    [Range(60, 86400)] public int CheckSyncSeconds { get; set; } = 600;
    /// <summary>
    /// A streaming car the vehicle list calls online, without a connected stream and without a field for this long, is polled
    /// instead (its stream went quiet). Cars reconnect with a back-off capped at 30 s (TESLA.md §8.2), so this leaves room.
    /// </summary>
    [Range(30, 3600)] public int QuietAfterSeconds { get; set; } = 120;

    public bool Enabled => !string.IsNullOrWhiteSpace(Mqtt.Host) && !string.IsNullOrWhiteSpace(Server.Hostname);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var nested = new List<ValidationResult>();
        Validator.TryValidateObject(Mqtt, new ValidationContext(Mqtt), nested, validateAllProperties: true);
        Validator.TryValidateObject(Server, new ValidationContext(Server), nested, validateAllProperties: true);
        foreach (var r in nested)
        {
            yield return r;
        }
        if (string.IsNullOrWhiteSpace(Mqtt.Host) != string.IsNullOrWhiteSpace(Server.Hostname))
        {
            yield return new ValidationResult(
                "Telemetry needs both Telemetry:Mqtt:Host (where fleet-telemetry publishes) and Telemetry:Server:Hostname (where cars stream); "
                + "set both to stream, or neither to poll every car.", [nameof(Mqtt), nameof(Server)]);
        }
        if (RenewDaysBefore >= ConfigDays)
        {
            yield return new ValidationResult($"Telemetry:RenewDaysBefore ({RenewDaysBefore}) must be below Telemetry:ConfigDays ({ConfigDays}).", [nameof(RenewDaysBefore)]);
        }
    }

    public sealed class MqttOptions
    {
        public string? Host { get; set; }
        [Range(1, 65535)] public int Port { get; set; } = 1883;
        public bool UseTls { get; set; }
        /// <summary>A subscribe-only account on the MQTT broker (docs/telemetry.md shows the mosquitto ACL).</summary>
        public string? Username { get; set; }
        public string? Password { get; set; }
        /// <summary>fleet-telemetry's <c>topic_base</c>: fields arrive on <c>&lt;base&gt;/&lt;VIN&gt;/v/&lt;Field&gt;</c>.</summary>
        [RegularExpression("^[^#+$][^#+]*$")] public string TopicBase { get; set; } = "telemetry";
        /// <summary>The MQTT 5 shared-subscription group: each message goes to one replica of the group.</summary>
        [RegularExpression("^[A-Za-z0-9_-]+$")] public string ShareGroup { get; set; } = "broker";
        /// <summary>
        /// This replica's MQTT client id, stable across restarts so its session (and the messages queued in it) survives. Unset:
        /// the account name (docker-compose's mosquitto makes every client's id its account name, one account per replica), else
        /// <c>broker-&lt;host name&gt;</c>.
        /// </summary>
        [RegularExpression("^[A-Za-z0-9_-]{1,64}$")] public string? ClientId { get; set; }

        public string EffectiveClientId => ClientId ?? Username ?? "broker-" + Environment.MachineName.ToLowerInvariant();
        /// <summary>How long the MQTT broker keeps this replica's session and its QoS 1 messages while it is away.</summary>
        [Range(60, 604800)] public int SessionExpirySeconds { get; set; } = 86400;
    }

    public sealed class ServerOptions
    {
        /// <summary>The fleet-telemetry server cars connect to; Tesla requires it under the partner domain (TESLA.md §8.1).</summary>
        public string? Hostname { get; set; }
        [Range(1, 65535)] public int Port { get; set; } = 443;
        /// <summary>The PEM chain of the server's CA, sent to cars in the config (optional for a publicly trusted certificate).</summary>
        public string? Ca { get; set; }
    }
}
