using System.Text.Json;
using Broker.Polling;
using Broker.Telemetry;

namespace Broker.Tests.Telemetry;

/// <summary>How streamed values land in a reading, for cases the end-to-end tests cannot order at will.</summary>
public sealed class TelemetryFieldsTests
{
    [Fact]
    public void TheIdleChargersZeroDoesNotWipeTheOtherOnesPowerWhileCharging()
    {
        var r = new VehicleReading();
        Apply(r, "DetailedChargeState", "\"DetailedChargeStateCharging\"");
        Apply(r, "ACChargingPower", "7.2");
        Apply(r, "DCChargingPower", "0");   // sent too when the car connects, after AC here
        Assert.Equal(7.2, r.ChargerPowerKw);

        Apply(r, "DetailedChargeState", "\"DetailedChargeStateComplete\"");
        Assert.Equal(0, r.ChargerPowerKw);

        Apply(r, "DetailedChargeState", "\"DetailedChargeStateCharging\"");
        Apply(r, "DCChargingPower", "120");  // a Supercharger
        Apply(r, "ACChargingPower", "0");
        Assert.Equal(120, r.ChargerPowerKw);
    }

    [Theory]
    [InlineData("BatteryLevel", "101")]
    [InlineData("BatteryLevel", "-1")]
    [InlineData("InsideTemp", "-300")]
    [InlineData("VehicleSpeed", "1e300")]
    [InlineData("ChargeLimitSoc", "\"-4000000000\"")]
    [InlineData("VehicleSpeed", "\"  12.5e2 \"")]
    public void ValuesNoCarReportsAreNotReadings(string field, string json)
    {
        var r = new VehicleReading();
        Assert.Equal(TelemetryFields.Outcome.UnexpectedType, Apply(r, field, json));
    }

    private static TelemetryFields.Outcome Apply(VehicleReading r, string field, string json)
    {
        using var doc = JsonDocument.Parse(json);
        return TelemetryFields.Apply(r, field, doc.RootElement, withLocation: true);
    }
}
