# compat_rb.rb — run a Ruby client of this directory unchanged, with:
#  - "COMPAT-PEER <sha256 of the server certificate>" on stderr for every
#    TLS connection Net::HTTP makes (to tell the provider's certificate from
#    the gateway's);
#  - COMPAT_ORIGIN=https://localhost:PORT (optional): the provider's default
#    origin swapped for it (observe mode cannot route; equivalent of an
#    /etc/hosts entry plus a port).
#   ruby compat_rb.rb CLIENT.rb [client argv...]
require "digest"
require "net/http"
require "uri"

module CompatPeer
  private

  def connect
    super
    if use_ssl? && @socket && @socket.io.respond_to?(:peer_cert) && @socket.io.peer_cert
      $stderr.puts "COMPAT-PEER " + Digest::SHA256.hexdigest(@socket.io.peer_cert.to_der)
    end
  end
end
Net::HTTP.prepend(CompatPeer)

ORIGIN = ENV["COMPAT_ORIGIN"]
if ORIGIN && !ORIGIN.empty?
  module CompatOrigin
    def URI(s)
      super(s.to_s.sub(%r{\Ahttps://api\.(openai|anthropic)\.com}, ORIGIN))
    end
  end
  Object.prepend(CompatOrigin)
end

script = ARGV.shift
script = File.join(__dir__, script) unless script.start_with?("/")
load script
