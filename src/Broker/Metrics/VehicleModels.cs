namespace Broker.Metrics;

/// <summary>
/// A vehicle's model as people say it ("Model 3"), next to Tesla's raw <c>car_type</c>. From <c>car_type</c> by prefix as
/// TeslaMate maps it (<c>models*</c>, <c>lychee</c> → S; <c>modelx*</c>, <c>tamarind</c> → X; <c>model3*</c>, <c>modely*</c>),
/// else from the VIN's model character (position 4, as python-tesla-fleet-api reads it; C is Cybertruck), else empty.
/// </summary>
public static class VehicleModels
{
    public static string Name(string? carType, string vin) => carType?.ToLowerInvariant() switch
    {
        { } t when t.StartsWith("models") || t == "lychee" => "Model S",
        { } t when t.StartsWith("modelx") || t == "tamarind" => "Model X",
        { } t when t.StartsWith("model3") => "Model 3",
        { } t when t.StartsWith("modely") => "Model Y",
        { } t when t.StartsWith("cybertruck") => "Cybertruck",
        _ => vin.Length >= 4 ? vin[3] switch
        {
            'S' => "Model S", 'X' => "Model X", '3' => "Model 3", 'Y' => "Model Y", 'C' => "Cybertruck", 'R' => "Roadster", 'T' => "Semi",
            _ => "",
        } : "",
    };
}
