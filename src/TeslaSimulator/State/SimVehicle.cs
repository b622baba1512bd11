using TeslaSimulator.Car;
using TeslaSimulator.Telemetry;

namespace TeslaSimulator.State;

internal enum VehicleMode { Driving, Charging, Parked, Asleep, Offline }

/// <summary>
/// One car. State is advanced lazily to "now" on every read, so simulated time (a FakeTimeProvider in tests)
/// fully determines what the API reports. All members are guarded by <see cref="SimulatorState.Gate"/>.
/// </summary>
internal sealed class SimVehicle(SeedVehicle seed, SimAccount owner, DateTimeOffset now)
{
    private const double SpeedMph = 38;
    private const double MinDriveBattery = 10;

    public SeedVehicle Seed { get; } = seed;
    public SimAccount Owner { get; } = owner;
    public string Vin => Seed.Vin;

    public VehicleMode Mode { get; private set; } = ParseMode(seed.State);
    public double Battery { get; private set; } = seed.BatteryLevel;
    public int ChargeLimit { get; private set; } = seed.ChargeLimit;
    public double Odometer { get; private set; } = seed.Odometer;
    public double Latitude { get; private set; } = seed.Latitude;
    public double Longitude { get; private set; } = seed.Longitude;
    public int Heading { get; private set; } = seed.Heading;
    public bool PluggedIn { get; private set; } = seed.PluggedIn || ParseMode(seed.State) == VehicleMode.Charging;
    public bool Locked { get; set; } = true;

    /// <summary>The AC line voltage the simulator charges at (vehicle_data's charger_voltage while charging).</summary>
    public const int LineVoltage = 240;

    /// <summary>Requested charge current (charge_current_request); starts at the car's maximum.</summary>
    public int ChargeAmps { get; private set; } = seed.MaxChargeAmps;

    /// <summary>The port door: open whenever a cable is in, or after charge_port_door_open until closed.</summary>
    public bool ChargePortOpen => PluggedIn || _portOpened;
    private bool _portOpened;

    /// <summary>Climate switched on by a command (hvac auto / auto_conditioning_start); driving runs it anyway.</summary>
    public bool ClimateOn { get; private set; }

    /// <summary>The car's side of the Vehicle Command Protocol: its domains' keys, clocks and counters (Car/).</summary>
    public VehicleCommandCar CommandCar { get; } = new(now) { SupportsSignedCommands = !seed.SignedCommandsUnsupported };

    /// <summary>AC charging power: requested amps × line voltage, capped by what the charger delivers.</summary>
    public double ChargingKw => Math.Min(Seed.ChargerPowerKw, ChargeAmps * LineVoltage / 1000.0);
    public double ChargeEnergyAdded { get; private set; }
    public bool ChargeStoppedByUser { get; private set; }
    public DateTimeOffset LastActivity { get; private set; } = now;
    public DateTimeOffset? WakeAt { get; private set; }
    private DateTimeOffset? _tripEndsAt = ParseMode(seed.State) == VehicleMode.Driving ? now.AddMinutes(seed.TripMinutes) : null;
    private DateTimeOffset _evaluated = now;

    /// <summary>Partner keys the owner added through tesla.com/_ak/&lt;domain&gt;.</summary>
    public List<VirtualKey> VirtualKeys { get; } = [];

    /// <summary>Fleet Telemetry configs the car holds, one per app, keyed by client id.</summary>
    public Dictionary<string, TelemetryConfig> TelemetryConfigs { get; } = new(StringComparer.Ordinal);

    /// <summary>What the car reported about configs it could not load (fleet_telemetry_errors).</summary>
    public List<TelemetryError> TelemetryErrors { get; } = [];

    public string ApiState => Mode switch { VehicleMode.Asleep => "asleep", VehicleMode.Offline => "offline", _ => "online" };
    public bool IsAwake => Mode is VehicleMode.Driving or VehicleMode.Charging or VehicleMode.Parked;
    public double SpeedNow => Mode == VehicleMode.Driving ? SpeedMph : 0;
    public double ChargerPowerKw => Mode == VehicleMode.Charging ? ChargingKw : 0;

    public string ChargingState => Mode switch
    {
        VehicleMode.Charging => "Charging",
        _ when !PluggedIn => "Disconnected",
        _ when Battery >= ChargeLimit - 0.5 && !ChargeStoppedByUser => "Complete",
        _ => "Stopped",
    };

    private double PercentPerHourCharging => ChargingKw / Seed.PackKwh * 100;
    private double PercentPerMile => 0.26 / Seed.PackKwh * 100; // ~260 Wh/mi

    public void Advance(DateTimeOffset now, SimTiming timing)
    {
        // Each pass consumes one segment of time up to the next transition, so a car can finish charging,
        // then sit idle, then fall asleep within one lazy evaluation.
        while (_evaluated < now)
        {
            var from = _evaluated;
            switch (Mode)
            {
                case VehicleMode.Driving:
                    var batteryLimitHours = Math.Max(0, (Battery - MinDriveBattery) / (PercentPerMile * SpeedMph));
                    var end = Min(now, _tripEndsAt ?? DateTimeOffset.MaxValue, from.AddHours(batteryLimitHours));
                    Drive((end - from).TotalHours);
                    _evaluated = end;
                    if (end < now || end == _tripEndsAt) Park(end);
                    break;
                case VehicleMode.Charging:
                    // At 0 A the car stays in Charging and adds nothing (no end in sight).
                    var full = PercentPerHourCharging <= 0 ? DateTimeOffset.MaxValue
                        : from.AddHours(Math.Min(1e6, Math.Max(0, (ChargeLimit - Battery) / PercentPerHourCharging)));
                    var until = Min(now, full, DateTimeOffset.MaxValue);
                    var hours = (until - from).TotalHours;
                    Battery = Math.Min(ChargeLimit, Battery + hours * PercentPerHourCharging);
                    ChargeEnergyAdded += hours * ChargingKw;
                    _evaluated = until;
                    if (until == full) Park(full);
                    break;
                case VehicleMode.Parked:
                    var sleepAt = LastActivity.AddSeconds(timing.IdleSecondsBeforeSleep);
                    if (sleepAt <= now) { Mode = VehicleMode.Asleep; _evaluated = Max(sleepAt, from); }
                    else _evaluated = now;
                    break;
                default: // asleep or offline
                    if (Mode == VehicleMode.Asleep && WakeAt is { } wake && wake <= now)
                    {
                        Mode = VehicleMode.Parked;
                        LastActivity = Max(wake, from);
                        _evaluated = LastActivity;
                        WakeAt = null;
                    }
                    else _evaluated = now;
                    break;
            }
        }
    }

    /// <summary>vehicle_data and commands keep a car awake; listing does not call this.</summary>
    public void Touch(DateTimeOffset now) => LastActivity = Max(LastActivity, now);

    public void RequestWake(DateTimeOffset now, SimTiming timing)
    {
        if (Mode == VehicleMode.Asleep && WakeAt is null) WakeAt = now.AddSeconds(timing.WakeUpSeconds);
        Advance(now, timing);
    }

    public void ForceState(string state, DateTimeOffset now)
    {
        Mode = ParseMode(state);
        _evaluated = now;
        LastActivity = now;
        WakeAt = null;
        _tripEndsAt = Mode == VehicleMode.Driving ? now.AddMinutes(Seed.TripMinutes) : null;
        if (Mode == VehicleMode.Driving) PluggedIn = false;
        if (Mode == VehicleMode.Charging) { PluggedIn = true; ChargeStoppedByUser = false; }
    }

    public string? StartCharging(DateTimeOffset now)
    {
        if (Mode == VehicleMode.Charging) return "is_charging";
        if (!PluggedIn) return "disconnected";
        if (Battery >= ChargeLimit - 0.5) return "complete";
        Mode = VehicleMode.Charging;
        ChargeStoppedByUser = false;
        _evaluated = now;
        return null;
    }

    public string? StopCharging(DateTimeOffset now)
    {
        if (Mode != VehicleMode.Charging) return "not_charging";
        ChargeStoppedByUser = true;
        Park(now);
        return null;
    }

    public string? SetChargeLimit(int percent)
    {
        if (percent is < 50 or > 100) return "invalid_percent";
        if (percent == ChargeLimit) return "already_set";
        ChargeLimit = percent;
        return null;
    }

    /// <summary>
    /// Charge current request. Tesla's refusal text for amps outside 0..max is not published; the simulator answers
    /// "invalid_amps" [assumed]. The same value again succeeds (the app lets one re-send it) [assumed].
    /// </summary>
    public string? SetChargingAmps(int amps)
    {
        if (amps < 0 || amps > Seed.MaxChargeAmps) return "invalid_amps";
        ChargeAmps = amps;
        return null;
    }

    public string? OpenChargePort()
    {
        _portOpened = true;
        return null;
    }

    /// <summary>A door with a cable in it does not close [assumed reason text].</summary>
    public string? CloseChargePort()
    {
        if (PluggedIn) return "charge_cable_connected";
        _portOpened = false;
        return null;
    }

    public string? SetClimate(bool on)
    {
        ClimateOn = on;
        return null;
    }

    private void Drive(double hours)
    {
        var miles = hours * SpeedMph;
        Odometer += miles;
        Battery = Math.Max(0, Battery - miles * PercentPerMile);
        var rad = Heading * Math.PI / 180;
        Latitude += miles * Math.Cos(rad) / 69.0;
        Longitude += miles * Math.Sin(rad) / (69.0 * Math.Max(0.2, Math.Cos(Latitude * Math.PI / 180)));
    }

    private void Park(DateTimeOffset at)
    {
        Mode = VehicleMode.Parked;
        LastActivity = at;
        _tripEndsAt = null;
    }

    private static VehicleMode ParseMode(string state) => state.ToLowerInvariant() switch
    {
        "driving" => VehicleMode.Driving,
        "charging" => VehicleMode.Charging,
        "online" or "parked" => VehicleMode.Parked,
        "asleep" => VehicleMode.Asleep,
        "offline" => VehicleMode.Offline,
        _ => throw new ArgumentException($"Unknown vehicle state '{state}'."),
    };

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b, DateTimeOffset c) => a < b ? (a < c ? a : c) : (b < c ? b : c);
    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}

/// <summary>A partner's public key paired with a car, and whose key it was (so revoking that app's access removes it).</summary>
internal sealed record VirtualKey(string Domain, string ClientId, string PublicKey, DateTimeOffset AddedAt);

internal sealed record SimTiming(int WakeUpSeconds, int IdleSecondsBeforeSleep);
