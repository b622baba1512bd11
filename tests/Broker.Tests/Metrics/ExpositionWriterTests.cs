using Broker.Metrics;

namespace Broker.Tests.Metrics;

/// <summary>The writer grows past the buffer it was given (or none) without losing or reordering a byte.</summary>
public sealed class ExpositionWriterTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(1_000_000)]
    public void ItWritesPastItsFirstBufferWithoutLosingAByte(int given)
    {
        var writer = new ExpositionWriter(given == 0 ? null : new byte[given], capacityHint: 0);
        var expected = new System.Text.StringBuilder();
        writer.Family("tesla_vehicle_battery_level_percent", "State of charge.", "gauge");
        expected.Append("# HELP tesla_vehicle_battery_level_percent State of charge.\n# TYPE tesla_vehicle_battery_level_percent gauge\n");
        for (var i = 0; i < 5_000; i++) // ~400 KB: several doublings from 16 KB
        {
            var vin = $"5YJ3E1EA{i:D9}";
            writer.Sample(ExpositionWriter.Labels(("tenant", "household"), ("vin", vin)), "state", i % 2 == 0 ? "online" : "asleep", i);
            expected.Append($"tesla_vehicle_battery_level_percent{{tenant=\"household\",vin=\"{vin}\",state=\"{(i % 2 == 0 ? "online" : "asleep")}\"}} {i}\n");
        }

        Assert.Equal(expected.ToString(), System.Text.Encoding.UTF8.GetString(writer.Buffer, 0, writer.Length));
    }
}
