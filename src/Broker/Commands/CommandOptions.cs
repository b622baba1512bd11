using System.ComponentModel.DataAnnotations;

namespace Broker.Commands;

/// <summary>Configuration section <c>Commands</c>.</summary>
public sealed class CommandOptions
{
    public const string SectionName = "Commands";

    /// <summary>
    /// How long a signed command stays valid on the car's clock (its <c>expires_at</c>). Short, so a command held up on
    /// the way cannot act long after it was meant to; long enough for the Fleet API's round trip.
    /// </summary>
    [Range(5, 60)] public int CommandLifetimeSeconds { get; set; } = 15;

    /// <summary>With <c>?wake=true</c>: how long to wait for a woken car to come online (Tesla: 10 to 60 seconds).</summary>
    [Range(5, 120)] public int WakeTimeoutSeconds { get; set; } = 45;

    /// <summary>How often the free vehicle list is read while waiting for a car to wake.</summary>
    [Range(1, 30)] public int WakePollSeconds { get; set; } = 3;
}
