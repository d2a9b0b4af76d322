"""bench/ws_echo_py.py - Python `websockets` echo server for bench/ws.sh: ws_echo_py.py PORT"""
import asyncio, sys
import websockets


async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)


async def main():
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1]), compression=None):
        print("listening", flush=True)
        await asyncio.Future()

asyncio.run(main())
