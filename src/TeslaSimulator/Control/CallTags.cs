namespace TeslaSimulator.Control;

/// <summary>Handlers tag the request with who and what it was about; the ledger middleware reads the tags.</summary>
internal static class CallTags
{
    private const string AccountKey = "sim.account";
    private const string DeviceKey = "sim.device";

    public static void SetAccount(this HttpContext ctx, string? account) { if (!string.IsNullOrEmpty(account)) ctx.Items[AccountKey] = account; }
    public static void SetDevice(this HttpContext ctx, string? device) { if (!string.IsNullOrEmpty(device)) ctx.Items[DeviceKey] = device; }
    public static string AccountTag(this HttpContext ctx) => ctx.Items[AccountKey] as string ?? "-";
    public static string DeviceTag(this HttpContext ctx) => ctx.Items[DeviceKey] as string ?? "-";
}
