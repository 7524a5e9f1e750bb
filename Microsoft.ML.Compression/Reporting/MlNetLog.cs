using Microsoft.ML.Runtime;

namespace Microsoft.ML.Compression.Reporting;

/// <summary>Messages on ML.NET's own log channel (what <c>mlContext.Log</c> subscribers see).</summary>
internal static class MlNetLog
{
    public static void LogInfo(this MLContext ml, string message)
    {
        var host = ((IHostEnvironment)ml).Register("Microsoft.ML.Compression");
        using var channel = host.Start("Compression");
        channel.Info(MessageSensitivity.None, "{0}", message);
    }
}
