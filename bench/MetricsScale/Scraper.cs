using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace MetricsScale;

/// <summary>
/// Fetches a URL over loopback HTTP and times it to the last byte. The body is read through a 64 KB
/// buffer and dropped,
/// watching only for the <c>tesla_broker_scrape_duration_seconds</c> line.
/// </summary>
internal sealed class Scraper(string baseUrl)
{
    private static readonly byte[] DurationLine = Encoding.ASCII.GetBytes("\ntesla_broker_scrape_duration_seconds ");

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        AutomaticDecompression = DecompressionMethods.None, MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(10),
    }) { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromMinutes(5) };

    public sealed record Result(double Ms, long Bytes, double? BuildSeconds, string? Encoding);

    public async Task<Result> GetAsync(string path, string? token = null, bool gzip = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (gzip)
        {
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
        }
        var buffer = new byte[64 * 1024];
        var started = Stopwatch.GetTimestamp();
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        long total = 0;
        var carry = 0; // bytes kept from the previous read, so a line split across reads is still found
        double? build = null;
        while (true)
        {
            var read = await body.ReadAsync(buffer.AsMemory(carry));
            if (read == 0)
            {
                break;
            }
            total += read;
            var window = buffer.AsSpan(0, carry + read);
            if (build is null && !gzip && window.IndexOf(DurationLine) is var at and >= 0)
            {
                var rest = window[(at + DurationLine.Length)..];
                if (rest.IndexOf((byte)'\n') is var end and >= 0)
                {
                    build = double.Parse(Encoding.ASCII.GetString(rest[..end]), CultureInfo.InvariantCulture);
                }
            }
            carry = Math.Min(window.Length, 128);
            window[^carry..].CopyTo(buffer);
        }
        return new Result(Stopwatch.GetElapsedTime(started).TotalMilliseconds, total, build, response.Content.Headers.ContentEncoding.FirstOrDefault());
    }
}
