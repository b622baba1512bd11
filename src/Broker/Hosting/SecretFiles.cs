namespace Broker.Hosting;

/// <summary>
/// The <c>_FILE</c> convention of the official Docker images (<c>POSTGRES_PASSWORD_FILE</c>): a setting
/// <c>Section:Key_FILE</c> names a file, and its content becomes <c>Section:Key</c>. A secret then reaches
/// the container as a mounted file (a compose secret) instead of an environment variable, which
/// <c>docker inspect</c>, <c>/proc/*/environ</c> and every child process can read.
/// <list type="bullet">
/// <item>The file wins over the plain setting, and trailing whitespace (the newline of <c>echo</c>) is dropped.</item>
/// <item>A named file that cannot be read stops start-up; the message names the setting and the path, never what a file holds.</item>
/// <item>Only keys inside a section count: a bare <c>X_FILE</c> in the environment belongs to other software
/// (OpenSSL's <c>SSL_CERT_FILE</c>, <c>AWS_CONFIG_FILE</c>), not to Broker.</item>
/// <item>Files are read once, at start-up: a rotated secret needs a restart.</item>
/// </list>
/// </summary>
public static class SecretFiles
{
    public const string Suffix = "_FILE";

    /// <summary>Adds the file contents on top of every source added so far (environment, command line, JSON).</summary>
    public static IConfigurationManager AddSecretFiles(this IConfigurationManager configuration)
    {
        configuration.Sources.Add(new SecretFilesSource());
        return configuration;
    }

    private sealed class SecretFilesSource : IConfigurationSource
    {
        // The builder is the ConfigurationManager, which is also the configuration read so far.
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new SecretFilesProvider(
            builder as IConfiguration ?? throw new NotSupportedException("AddSecretFiles needs a ConfigurationManager (builder.Configuration)."));
    }

    private sealed class SecretFilesProvider(IConfiguration configuration) : ConfigurationProvider
    {
        public override void Load()
        {
            var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            List<string> failures = [];
            // Snapshot first: this provider may already be among the ones being enumerated (a reload).
            var named = configuration.AsEnumerable()
                .Where(s => s.Key.Contains(':') && s.Key.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase) && !string.IsNullOrEmpty(s.Value))
                .ToList();
            foreach (var (key, path) in named)
            {
                try
                {
                    data[key[..^Suffix.Length]] = File.ReadAllText(path!).TrimEnd();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
                {
                    // The framework's message names the path and the reason, nothing of the content.
                    failures.Add($"{key} names {path}, which cannot be read: {ex.Message}");
                }
            }
            if (failures.Count > 0)
            {
                throw new InvalidOperationException(
                    "A secret file is missing or unreadable; mount it there (compose: `secrets:`) or unset the setting. "
                    + string.Join(" ", failures));
            }
            Data = data;
        }
    }
}
