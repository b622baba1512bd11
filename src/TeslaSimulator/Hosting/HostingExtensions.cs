using Microsoft.Extensions.Options;

namespace TeslaSimulator.Hosting;

internal static class HostingExtensions
{
    /// <summary>Binds options and, when no URLs were given, listens on every configured auth/region origin (China's auth server too).</summary>
    public static WebApplicationBuilder AddSimulatorHosting(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<SimulatorOptions>().BindConfiguration(SimulatorOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<SimulatorOptions>>().Value);
        builder.Services.AddSingleton(TimeProvider.System);

        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            var section = builder.Configuration.GetSection(SimulatorOptions.SectionName);
            var urls = new[] { section["AuthBaseUrl"] ?? "http://127.0.0.1:7800" }
                .Concat(section.GetSection("Regions").GetChildren().Select(c => c.Value ?? ""))
                .Concat(section.GetSection("Auth").GetChildren().Select(c => c["AuthBaseUrl"] ?? ""))
                .Where(u => Uri.TryCreate(u, UriKind.Absolute, out _))
                .Select(u => new Uri(u).GetLeftPart(UriPartial.Authority))
                .Distinct(StringComparer.OrdinalIgnoreCase)
                .ToArray();
            builder.WebHost.UseUrls(urls);
        }
        return builder;
    }
}
