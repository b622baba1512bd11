using System.Text.Json;
using Broker.Polling;
using Broker.Telemetry;

namespace Broker.Tests.Telemetry;

/// <summary>How streamed values land in a reading, for cases the end-to-end tests cannot order at will.</summary>
public sealed class TelemetryFieldsTests
{
    private readonly VehicleReading r = new();
    private readonly VehicleTelemetry t = new();

    [Fact]
    public void TheIdleChargersZeroDoesNotWipeTheOtherOnesPowerWhileCharging()
    {
        Apply("DetailedChargeState", "\"DetailedChargeStateCharging\"");
        Apply("ACChargingPower", "7.2");
        Apply("DCChargingPower", "0");   // sent too when the car connects, after AC here
        Assert.Equal(7.2, r.ChargerPowerKw);

        Apply("DetailedChargeState", "\"DetailedChargeStateComplete\"");
        Assert.Equal(0, r.ChargerPowerKw);

        Apply("DetailedChargeState", "\"DetailedChargeStateCharging\"");
        Apply("DCChargingPower", "120");  // a Supercharger
        Apply("ACChargingPower", "0");
        Assert.Equal(120, r.ChargerPowerKw);
    }

    /// <summary>
    /// A charge that starts from sleep: the car connects and sends both chargers' fields and its state. However the messages
    /// are ordered and split into batches, the reading ends with the charging side's power and energy.
    /// </summary>
    [Theory]
    [MemberData(nameof(ConnectOrders))]
    public void EveryOrderOfAChargeStartsFieldsEndsWithTheChargingSidesValues(string[] order)
    {
        Apply("DetailedChargeState", "\"DetailedChargeStateStopped\"");
        Apply("ACChargingEnergyIn", "12.5");   // yesterday's AC session
        var values = new Dictionary<string, string>
        {
            ["DetailedChargeState"] = "\"DetailedChargeStateCharging\"",
            ["ACChargingPower"] = "0", ["ACChargingEnergyIn"] = "12.5",
            ["DCChargingPower"] = "150", ["DCChargingEnergyIn"] = "0.4",
        };
        foreach (var field in order)
        {
            Apply(field, values[field]);
        }
        Assert.Equal(150, r.ChargerPowerKw);
        Assert.Equal(0.4, r.ChargeEnergyAddedKwh);

        Apply("DCChargingEnergyIn", "3.1");
        Apply("ACChargingEnergyIn", "12.5");   // the idle side's 30-minute resend
        Assert.Equal(3.1, r.ChargeEnergyAddedKwh);
    }

    public static TheoryData<string[]> ConnectOrders()
    {
        string[] fields = ["DetailedChargeState", "ACChargingPower", "ACChargingEnergyIn", "DCChargingPower", "DCChargingEnergyIn"];
        var data = new TheoryData<string[]>();
        foreach (var order in Permutations(fields))
        {
            data.Add(order);
        }
        return data;
    }

    private static IEnumerable<string[]> Permutations(string[] items) => items.Length <= 1
        ? [items]
        : items.SelectMany((x, i) => Permutations([.. items[..i], .. items[(i + 1)..]]).Select(rest => (string[])[x, .. rest]));

    [Fact]
    public void AnIdleCarsZeroCounterDoesNotHideTheLastSessionsEnergy()
    {
        Apply("DetailedChargeState", "\"DetailedChargeStateComplete\"");
        Apply("ACChargingEnergyIn", "21.7");
        Apply("DCChargingEnergyIn", "0");   // the other side's resend
        Assert.Equal(21.7, r.ChargeEnergyAddedKwh);
        Assert.Equal(0, r.ChargerPowerKw);
    }

    [Theory]
    [InlineData("BatteryLevel", "101")]
    [InlineData("BatteryLevel", "-1")]
    [InlineData("InsideTemp", "-300")]
    [InlineData("VehicleSpeed", "1e300")]
    [InlineData("ChargeLimitSoc", "\"-4000000000\"")]
    [InlineData("VehicleSpeed", "\"  12.5e2 \"")]
    [InlineData("ACChargingPower", "-3")]
    [InlineData("DCChargingEnergyIn", "\"NaN\"")]
    [InlineData("Gear", "\"ShiftStateBogus\"")]   // any word that is not in vehicle_data.proto's enum
    [InlineData("Gear", "\"Bogus\"")]
    [InlineData("DetailedChargeState", "\"DetailedChargeStateWhatever\\nfoo\"")]
    [InlineData("HvacPower", "\"HvacPowerStateTurbo\"")]
    [InlineData("CarType", "\"CarTypeModelT\"")]
    [InlineData("SentryMode", "\"SentryModeStateUnknown\"")]
    public void ValuesNoCarReportsAreNotReadings(string field, string json)
    {
        Assert.Equal(TelemetryFields.Outcome.UnexpectedType, Apply(field, json));
    }

    [Theory]
    [InlineData("Gear", "\"ShiftStateD\"", "D")]
    [InlineData("Gear", "\"R\"", "R")]
    [InlineData("DetailedChargeState", "\"DetailedChargeStateNoPower\"", "NoPower")]
    public void EnumValuesAreTakenByTheirProtoNameWithOrWithoutPrefix(string field, string json, string stored)
    {
        Assert.Equal(TelemetryFields.Outcome.Applied, Apply(field, json));
        Assert.Equal(stored, field == "Gear" ? r.ShiftState : r.ChargingState);
    }

    [Fact]
    public void ACarsInvalidValueLeavesTheStoredOne()
    {
        Apply("ChargeLimitSoc", "80");
        Assert.Equal(TelemetryFields.Outcome.Invalid, Apply("ChargeLimitSoc", "null"));
        Assert.Equal(80, r.ChargeLimitSoc);
        Assert.Equal(TelemetryFields.Outcome.UnknownField, Apply("NoSuchField", "null"));
    }

    private TelemetryFields.Outcome Apply(string field, string json)
    {
        using var doc = JsonDocument.Parse(json);
        return TelemetryFields.Apply(r, t, field, doc.RootElement, withLocation: true);
    }
}
